"""Moving and copying members between lists: preview, apply in one transaction, undo, audit."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from audit.models import AuditEvent
from mailing.models import Delivery, Member
from org_groups.errors import OrgGroupsUserError
from org_groups.models import MemberTransfer, MemberTransferItem
from org_groups.services.transfers import transfer_apply, transfer_diff, transfer_preview, transfer_undo
from tests.conftest import tenant_host
from tests.factories import member_make
from tests.factories.console import group_admin_make, managed_list_make
from tests.org_groups.support import guardian_make, history_make, list_state, members_add

pytestmark = pytest.mark.usefixtures("tenant_db")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def lists():
    source = managed_list_make(name="株式会社サンプル 営業本部 第一営業部")
    target = managed_list_make(name="株式会社サンプル 営業本部 第二営業部")
    admin = group_admin_make(source, target).user
    return source, target, admin


def _preview(admin, kind, source, target, members):
    return transfer_preview(
        actor=admin,
        kind=kind,
        source_list=source,
        target_list=target,
        member_ids=[m.pk for m in members],
        selection={"mode": "hand"},
    )


def test_preview_says_who_is_added_who_is_already_there_and_who_leaves(lists):
    source, target, admin = lists
    _person, (pc, phone) = guardian_make(source, "山田 花子", "hanako@example.jp", "hanako..y@docomo.ne.jp")
    other = member_make(source, address="jiro@example.com", name="佐藤 次郎")
    member_make(target, address="HANAKO@example.jp", name="山田 花子")  # already there (case differs)
    before = list_state(source, target)

    transfer = _preview(admin, "move", source, target, [pc, phone, other])
    diff = transfer_diff(transfer=transfer)

    assert sorted(row["address"] for row in diff.added) == ["hanako..y@docomo.ne.jp", "jiro@example.com"]
    assert [row["address"] for row in diff.already] == ["hanako@example.jp"]
    assert len(diff.leaving) == 3
    assert list_state(source, target) == before  # a preview changes nothing


def test_move_keeps_the_member_rows_with_name_status_person_and_history(lists):
    source, target, admin = lists
    person, (pc, phone) = guardian_make(source, "山田 花子", "hanako@example.jp", "hanako..y@docomo.ne.jp")
    Member.objects.filter(pk=phone.pk).update(status=Member.Status.SUSPENDED)
    kept_in_target = member_make(target, address="hanako@example.jp", name="ヤマダ ハナコ")
    broadcast = history_make(source, [pc, phone])

    transfer = transfer_apply(transfer=_preview(admin, "move", source, target, [pc, phone]), actor=admin)

    moved = Member.objects.get(pk=phone.pk)  # the same row, now in the target
    assert moved.mailing_list_id == target.pk
    assert (moved.name, moved.status, moved.person_id) == ("山田 花子", "suspended", person.pk)
    assert Delivery.objects.get(broadcast=broadcast, address=phone.address).member_id == phone.pk
    # The PC address was already in the target: no duplicate; the target's own row is untouched.
    assert not Member.objects.filter(pk=pc.pk).exists()
    assert Member.objects.filter(mailing_list=target, address_normalized="hanako@example.jp").count() == 1
    assert Member.objects.get(pk=kept_in_target.pk).name == "ヤマダ ハナコ"
    assert not Member.objects.filter(mailing_list=source).exists()
    assert (transfer.added_count, transfer.already_count, transfer.left_source_count) == (1, 1, 2)
    outcomes = dict(transfer.items.values_list("member_id", "outcome"))
    assert outcomes == {phone.pk: "moved", pc.pk: "already"}
    events = AuditEvent.objects.filter(action="members.move", object_id=str(transfer.pk))
    assert sorted(events.values_list("mailing_list_id", flat=True)) == sorted([source.pk, target.pk])
    assert events.first().actor == admin
    assert sorted(events.first().after["addresses"]) == ["hanako..y@docomo.ne.jp", "hanako@example.jp"]


def test_copy_carries_the_person_and_never_makes_a_duplicate(lists):
    source, target, admin = lists
    person, guardian = guardian_make(source, "鈴木 一郎", "ichiro@example.jp", "ichiro.@ezweb.ne.jp")
    members = [*guardian, *members_add(source, 20, prefix="copy.")]

    first = transfer_apply(transfer=_preview(admin, "copy", source, target, members), actor=admin)
    second = transfer_apply(transfer=_preview(admin, "copy", source, target, members), actor=admin)

    assert (first.added_count, first.already_count) == (22, 0)
    assert (second.added_count, second.already_count) == (0, 22)
    assert Member.objects.filter(mailing_list=source).count() == 22  # a copy leaves the source alone
    assert Member.objects.filter(mailing_list=target).count() == 22
    copies = Member.objects.filter(mailing_list=target, person=person)
    assert sorted(copies.values_list("address", flat=True)) == ["ichiro.@ezweb.ne.jp", "ichiro@example.jp"]
    assert AuditEvent.objects.filter(action="members.copy", mailing_list_id=target.pk).count() == 2


def test_undo_of_a_move_puts_everything_back(lists):
    source, target, admin = lists
    _person, guardian = guardian_make(source, "田中 美咲", "misaki@example.jp", "misaki..t@docomo.ne.jp")
    members = [*guardian, *members_add(source, 30, prefix="undo.")]
    member_make(target, address="misaki@example.jp", name="田中 美咲")
    broadcast = history_make(source, members)
    before = list_state(source, target)

    transfer = transfer_apply(transfer=_preview(admin, "move", source, target, members), actor=admin)
    assert list_state(source, target) != before
    result = transfer_undo(transfer=transfer, actor=admin)

    assert result.restored == 32
    assert result.skipped == []
    assert list_state(source, target) == before  # same ids, lists, names, statuses, people, times
    # The row a move removed (its address was already in the target) has its history back.
    assert Delivery.objects.filter(broadcast=broadcast, member__isnull=True).count() == 0
    transfer.refresh_from_db()
    assert transfer.state == "undone"
    assert AuditEvent.objects.filter(action="members.move_undo", object_id=str(transfer.pk)).count() == 2


def test_undo_of_a_copy_removes_the_copies_only(lists):
    source, target, admin = lists
    members = members_add(source, 10, prefix="c.")
    member_make(target, address=members[0].address)
    before = list_state(source, target)
    transfer = transfer_apply(transfer=_preview(admin, "copy", source, target, members), actor=admin)
    transfer_undo(transfer=transfer, actor=admin)
    assert list_state(source, target) == before


def test_only_the_last_operation_can_be_undone_and_only_once(lists):
    source, target, admin = lists
    members = members_add(source, 4, prefix="last.")
    first = transfer_apply(transfer=_preview(admin, "copy", source, target, members[:2]), actor=admin)
    second = transfer_apply(transfer=_preview(admin, "copy", source, target, members[2:]), actor=admin)
    with pytest.raises(OrgGroupsUserError, match="Only the last operation"):
        transfer_undo(transfer=first, actor=admin)
    transfer_undo(transfer=second, actor=admin)
    with pytest.raises(OrgGroupsUserError, match="Only an applied operation"):
        transfer_undo(transfer=second, actor=admin)
    with pytest.raises(OrgGroupsUserError, match="already been applied"):
        transfer_apply(transfer=second, actor=admin)


def test_undo_leaves_members_changed_since_and_says_so(lists):
    source, target, admin = lists
    members = members_add(source, 3, prefix="since.")
    transfer = transfer_apply(transfer=_preview(admin, "move", source, target, members), actor=admin)
    Member.objects.filter(pk=members[0].pk).delete()  # left the target by mail meanwhile
    member_make(source, address=members[1].address)  # re-joined the source meanwhile
    result = transfer_undo(transfer=transfer, actor=admin)
    assert result.restored == 1
    assert len(result.skipped) == 2
    assert Member.objects.get(pk=members[2].pk).mailing_list_id == source.pk
    assert Member.objects.filter(mailing_list=source, address_normalized=members[1].address_normalized).count() == 1


def test_archived_lists_take_no_moves(lists):
    source, target, admin = lists
    members = members_add(source, 2, prefix="arch.")
    target.archived_at = timezone.now()
    target.save()
    with pytest.raises(OrgGroupsUserError, match="archived"):
        _preview(admin, "copy", source, target, members)


def test_members_of_other_lists_cannot_be_slipped_into_a_selection(lists):
    source, target, admin = lists
    elsewhere = managed_list_make()
    stranger = member_make(elsewhere)
    mine = member_make(source)
    transfer = _preview(admin, "move", source, target, [mine, stranger])
    assert transfer.member_ids == [mine.pk]
    transfer_apply(transfer=transfer, actor=admin)
    assert Member.objects.get(pk=stranger.pk).mailing_list_id == elsewhere.pk


# --- Through the pages


def _client(tenant, user):
    client = Client(HTTP_HOST=tenant_host(tenant), HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_selection_by_filter_and_whole_list_through_the_page(lists, tenant):
    source, target, admin = lists
    members_add(source, 12, prefix="page.")  # docomo and ezweb addresses among them
    client = _client(tenant, admin)
    url = reverse("console:transfer_select", kwargs={"list_id": source.pk})

    response = client.post(url, {"mode": "filter", "q": "docomo", "kind": "copy", "target": target.pk})
    transfer = MemberTransfer.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])
    chosen = Member.objects.filter(pk__in=transfer.member_ids)
    assert chosen.count() == Member.objects.filter(mailing_list=source, address__contains="docomo").count() > 0
    assert transfer.selection == {"mode": "filter", "q": "docomo", "status": ""}

    response = client.post(url, {"mode": "all", "kind": "move", "target": target.pk})
    transfer = MemberTransfer.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])
    assert len(transfer.member_ids) == 12

    response = client.post(url, {"mode": "hand", "kind": "move", "target": target.pk})
    assert response.status_code == 200
    assert "Select members first." in response.content.decode()


def test_preview_apply_and_undo_through_the_pages(lists, tenant):
    source, target, admin = lists
    members = members_add(source, 5, prefix="flow.")
    client = _client(tenant, admin)
    response = client.post(
        reverse("console:transfer_select", kwargs={"list_id": source.pk}),
        {"mode": "hand", "member": [m.pk for m in members[:3]], "kind": "move", "target": target.pk},
    )
    detail = response["Location"]
    page = client.get(detail).content.decode()
    assert members[0].address in page
    assert members[3].address not in page
    assert Member.objects.filter(mailing_list=target).count() == 0  # the preview changed nothing

    transfer = MemberTransfer.objects.get(pk=detail.rstrip("/").split("/")[-1])
    client.post(reverse("console:transfer_apply", kwargs={"transfer_id": transfer.pk}))
    assert Member.objects.filter(mailing_list=target).count() == 3
    page = client.get(detail).content.decode()
    assert 'id="transfer-undo"' in page

    client.post(reverse("console:transfer_undo", kwargs={"transfer_id": transfer.pk}))
    assert Member.objects.filter(mailing_list=target).count() == 0
    assert Member.objects.filter(mailing_list=source).count() == 5
    assert MemberTransferItem.objects.filter(transfer=transfer).count() == 3
