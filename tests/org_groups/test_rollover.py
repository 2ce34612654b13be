"""The yearly rollover (進級・クラス替え): rule and CSV plans, archive or removal of the leaving grade,
atomic apply, complete undo."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation

from audit.models import AuditEvent
from mailing.errors import MailingUserError
from mailing.models import Delivery, MailingList, Member
from mailing.selectors.routes import route_resolve
from mailing.services.members import member_add, member_remove
from org_groups.errors import OrgGroupsUserError, PlanOutdatedError
from org_groups.models import Group, Rollover
from org_groups.services.rollover import rollover_apply, rollover_plan_make, rollover_plan_refresh, rollover_undo
from tests.conftest import tenant_host
from tests.factories import member_make
from tests.factories.console import group_make, managed_list_make, user_make
from tests.org_groups.support import guardian_make, history_make, list_state, members_add, school_make

pytestmark = pytest.mark.usefixtures("tenant_db")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _school_state(school) -> tuple:
    lists = school.all_lists()
    return (
        list_state(*lists),
        sorted(Group.objects.values_list("id", "name", "parent_id", "mailing_list_id", "archived_at")),
        MailingList.objects.count(),
    )


def _addresses(mailing_list) -> set[str]:
    return set(Member.objects.filter(mailing_list=mailing_list).values_list("address", flat=True))


def test_rule_moves_every_class_up_and_keeps_the_leaving_grade_in_an_archive(tenant):
    school = school_make(grades=3, classes=2, per_class=3)
    before = {each.pk: _addresses(each) for each in school.all_lists()}
    leaving = school.classes[2]
    history = history_make(leaving[0], list(Member.objects.filter(mailing_list=leaving[0])))

    rollover = rollover_plan_make(root_group=school.root, mode="rule", leaving="archive", archive_label="卒業 2026")
    assert len(rollover.plan["moves"]) == 12
    assert len(rollover.plan["leavers"]) == 6
    assert list_state(*school.all_lists())  # the plan changed nothing yet
    rollover_apply(rollover=rollover, actor=None)

    c = school.classes
    assert _addresses(c[0][0]) == set()
    assert _addresses(c[0][1]) == set()
    assert _addresses(c[1][0]) == before[c[0][0].pk]  # 1年1組 -> 2年1組
    assert _addresses(c[1][1]) == before[c[0][1].pk]
    assert _addresses(c[2][0]) == before[c[1][0].pk]
    archive = Group.objects.get(parent=school.root, archived_at__isnull=False)
    assert archive.name == "卒業 2026"
    archive_lists = [g.mailing_list for g in archive.children.select_related("mailing_list")]
    assert [each.name for each in archive_lists] == ["3年1組 (卒業 2026)", "3年2組 (卒業 2026)"]
    assert all(each.archived_at is not None for each in archive_lists)
    assert _addresses(archive_lists[0]) == before[leaving[0].pk]
    # The graduates keep their history (the same member rows, now in the archive list).
    assert Delivery.objects.filter(broadcast=history, member__mailing_list=archive_lists[0]).count() == 3
    # An archive list takes no mail; the class list keeps its address for the new 3年1組.
    assert route_resolve(f"{archive_lists[0].local_part}@{tenant_host(tenant)}") is None
    assert route_resolve(f"{leaving[0].local_part}@{tenant_host(tenant)}") is not None
    assert archive_lists[0].local_part == f"{leaving[0].local_part}-2026"
    # Read-only: the console's member services refuse changes to an archive list.
    with pytest.raises(MailingUserError, match="archived"):
        member_add(mailing_list=archive_lists[0], address="new@example.jp")
    graduate = Member.objects.filter(mailing_list=archive_lists[0]).first()
    with pytest.raises(MailingUserError, match="archived"):
        member_remove(member=graduate, actor=user_make())


def test_a_2000_member_school_rolls_over_atomically_and_is_undone_completely():
    """6 grades x 4 classes, 2,000 members (guardians with two addresses, a parent with children in two
    grades, grade lists), with history: apply, then undo, and every row is as it was."""
    school = school_make(grades=6, classes=4, per_class=83, grade_lists=True)  # 24 x 83 = 1,992
    for n in range(3):  # three guardians with two addresses each: 1,998
        guardian_make(school.classes[n][n], f"保護者 {n}", f"guardian{n}@example.jp", f"guardian..{n}@docomo.ne.jp")
    # A parent with a child in 1年1組 and another in 2年1組: their address is in both lists (2,000).
    member_make(school.classes[0][0], address="oya.@ezweb.ne.jp", name="親 二人")
    member_make(school.classes[1][0], address="oya.@ezweb.ne.jp", name="親 二人")
    members_add(school.grade_lists[0], 10, prefix="grade1.")
    counts = {each.pk: each.members.count() for each in school.all_lists()}
    class_members = sum(counts[each.pk] for grade in school.classes for each in grade)
    assert class_members == 2000
    history_make(school.classes[5][0], list(Member.objects.filter(mailing_list=school.classes[5][0])))
    before = _school_state(school)

    started = time.perf_counter()
    rollover = rollover_plan_make(root_group=school.root, mode="rule", leaving="archive", archive_label="2026")
    planned = time.perf_counter() - started
    started = time.perf_counter()
    rollover_apply(rollover=rollover, actor=None)
    applied = time.perf_counter() - started
    print(f"rollover of 2,000 members: plan {planned * 1000:.0f} ms, apply {applied * 1000:.0f} ms")  # noqa: T201

    for g in range(1, 6):
        for k in range(4):
            assert school.classes[g][k].members.count() == counts[school.classes[g - 1][k].pk]
    assert all(each.members.count() == 0 for each in school.classes[0])
    assert school.grade_lists[1].members.count() == 10
    assert Member.objects.filter(address_normalized="oya.@ezweb.ne.jp").count() == 2  # both children moved up
    archived = Member.objects.filter(
        mailing_list__archived_at__isnull=False, mailing_list__group__parent__parent=school.root
    )
    assert archived.count() == sum(counts[each.pk] for each in school.classes[5]) + counts[school.grade_lists[5].pk]

    result = rollover_undo(rollover=rollover, actor=None)
    assert result.skipped == []
    assert _school_state(school) == before  # every member row, group and list exactly as before
    assert Delivery.objects.filter(member__isnull=True).count() == 0
    assert list(AuditEvent.objects.filter(object_id=str(rollover.pk)).values_list("action", flat=True)) == [
        "rollover.undo",
        "rollover.apply",
    ]


def test_apply_is_atomic_when_the_database_fails_midway():
    """A real failure in the middle of applying (a trigger refusing one member's move) leaves every
    list, group and member as it was."""
    school = school_make(grades=3, classes=2, per_class=5)
    before = _school_state(school)
    victim = Member.objects.filter(mailing_list=school.classes[0][1]).order_by("id").last()
    rollover = rollover_plan_make(root_group=school.root, mode="rule", leaving="archive")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_move() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.id = {int(victim.pk)} AND NEW.mailing_list_id <> OLD.mailing_list_id THEN "
            "RAISE EXCEPTION 'disk full (simulated)'; END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_move BEFORE UPDATE ON mailing_member FOR EACH ROW EXECUTE FUNCTION refuse_move()"
        )
    with pytest.raises(Exception, match="disk full"):
        rollover_apply(rollover=rollover, actor=None)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_move ON mailing_member")
    assert _school_state(school) == before
    rollover.refresh_from_db()
    assert rollover.state == "planned"
    rollover_apply(rollover=rollover, actor=None)  # without the fault it applies


def test_csv_in_shift_jis_reshuffles_classes_and_lists_rows_that_matched_nothing():
    school = school_make(grades=2, classes=3)
    one_a, one_b, one_c = school.classes[0]
    _person, (pc, phone) = guardian_make(one_a, "山田 花子", "hanako@example.jp", "hanako..y@docomo.ne.jp")
    taro = member_make(one_b, address="taro..yamada@docomo.ne.jp", name="鈴木 太郎")
    jiro = member_make(one_c, address="jiro@example.com", name="佐藤　次郎")  # a full-width space
    stays = member_make(one_c, address="kenta@example.com", name="高橋 健太")  # not in the file: by rule
    member_make(one_a, address="same1@example.com", name="田中 一郎")
    member_make(one_b, address="same2@example.com", name="田中 一郎")  # 同姓同名 in another class
    rows = [
        "メールアドレス,氏名,新クラス",
        "hanako..y@docomo.ne.jp,,2年3組",  # one address of a guardian: the other goes along
        ",鈴木 太郎,2年1組",  # by name
        ",佐藤 次郎,２年２組",  # half-width space in the file, full-width digits in the class
        "nobody@example.com,,2年1組",  # no such member
        ",田中 一郎,2年2組",  # two members with that name in different classes
        "jiro@example.com,,9年9組",  # no such class
    ]
    data = ("\r\n".join(rows) + "\r\n").encode("cp932")

    rollover = rollover_plan_make(
        root_group=school.root, mode="csv", leaving="remove", csv_data=data, csv_filename="新クラス.csv"
    )
    assert rollover.csv_encoding == "cp932"
    reasons = {row["line"]: row["reason"] for row in rollover.plan["unmatched"]}
    assert reasons == {
        5: "no member with this address",
        6: "found in several classes: give the address instead",
        7: "no such class",
    }
    rollover_apply(rollover=rollover, actor=None)
    two = school.classes[1]
    assert _addresses(two[2]) >= {pc.address, phone.address}  # the guardian's two addresses together
    assert taro.address in _addresses(two[0])
    assert jiro.address in _addresses(two[1])
    assert stays.address in _addresses(two[2])  # 1年3組 -> 2年3組 by rule
    assert Member.objects.get(pk=phone.pk).person_id == _person.pk  # the same row, person kept


def test_csv_without_header_in_utf8_with_bom():
    school = school_make(grades=2, classes=2)
    member = member_make(school.classes[0][0], address="a@example.jp", name="甲")
    data = "\ufeffa@example.jp,2年2組\r\n".encode()
    rollover = rollover_plan_make(root_group=school.root, mode="csv", leaving="archive", csv_data=data)
    assert rollover.csv_encoding == "utf-8-sig"
    assert rollover.plan["moves"] == [[member.pk, school.classes[0][0].pk, school.classes[1][1].pk]]


def test_remove_mode_removes_the_leaving_grade_and_undo_brings_them_back_with_history():
    school = school_make(grades=2, classes=2, per_class=4)
    leaving = list(Member.objects.filter(mailing_list=school.classes[1][0]))
    broadcast = history_make(school.classes[1][0], leaving)
    before = _school_state(school)
    rollover = rollover_plan_make(root_group=school.root, mode="rule", leaving="remove")
    rollover_apply(rollover=rollover, actor=None)
    assert not Member.objects.filter(pk__in=[m.pk for m in leaving]).exists()
    assert not Group.objects.filter(archived_at__isnull=False, parent=school.root).exists()
    rollover_undo(rollover=rollover, actor=None)
    assert _school_state(school) == before
    assert Delivery.objects.filter(broadcast=broadcast, member__in=leaving).count() == 4


def test_a_change_after_the_plan_refuses_the_apply_and_changes_nothing():
    school = school_make(grades=2, classes=2, per_class=2)
    rollover = rollover_plan_make(root_group=school.root, mode="rule", leaving="archive")
    member_make(school.classes[0][0], address="late@example.jp", name="遅れて登録")
    before = _school_state(school)
    with pytest.raises(PlanOutdatedError):
        rollover_apply(rollover=rollover, actor=None)
    assert _school_state(school) == before
    rollover = rollover_plan_refresh(rollover=rollover)
    rollover_apply(rollover=rollover, actor=None)
    assert "late@example.jp" in _addresses(school.classes[1][0])


def test_class_letters_match_across_grades_and_a_class_without_counterpart_stays():
    school = school_make(grades=2, classes=0)
    grade1, grade2 = school.grades
    lists = {}
    for grade, names in ((grade1, ["1年A組", "1年B組", "1年C組"]), (grade2, ["2年B組", "2年A組"])):
        for name in names:
            lists[name] = managed_list_make(name=name)
            group_make(name, parent=grade, mailing_list=lists[name])
    a = member_make(lists["1年A組"])
    b = member_make(lists["1年B組"])
    c = member_make(lists["1年C組"])
    rollover = rollover_plan_make(root_group=school.root, mode="rule", leaving="remove")
    moves = {move[0]: move[2] for move in rollover.plan["moves"]}
    assert moves[a.pk] == lists["2年A組"].pk  # by letter, though 2年A組 comes second
    assert moves[b.pk] == lists["2年B組"].pk
    assert rollover.plan["stays"] == [[c.pk, lists["1年C組"].pk]]


def test_a_school_needs_two_grades():
    school = school_make(grades=1, classes=2)
    with pytest.raises(OrgGroupsUserError, match="at least two grades"):
        rollover_plan_make(root_group=school.root, mode="rule", leaving="archive")


def test_the_wizard_pages_plan_apply_and_undo(tenant):
    school = school_make(grades=2, classes=2, per_class=2)
    owner = user_make(is_owner=True)
    client = Client(HTTP_HOST=tenant_host(tenant), HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner)
    page = client.get(reverse("console:rollover_start")).content.decode()
    assert school.root.name in page
    response = client.post(
        reverse("console:rollover_start"),
        {"root": school.root.pk, "mode": "rule", "leaving": "archive", "archive_label": "2026年度 卒業"},
    )
    rollover = Rollover.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])
    page = client.get(response["Location"]).content.decode()
    assert "1年1組" in page
    assert 'id="rollover-apply"' in page
    assert Member.objects.filter(mailing_list=school.classes[0][0]).count() == 2  # nothing applied yet
    client.post(reverse("console:rollover_apply", kwargs={"rollover_id": rollover.pk}))
    assert Member.objects.filter(mailing_list=school.classes[0][0]).count() == 0
    assert 'id="rollover-undo"' in client.get(response["Location"]).content.decode()
    client.post(reverse("console:rollover_undo", kwargs={"rollover_id": rollover.pk}))
    assert Member.objects.filter(mailing_list=school.classes[0][0]).count() == 2
