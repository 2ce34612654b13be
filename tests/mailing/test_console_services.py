"""Console services: lists, members, senders, admins, CSV import; each change leaves an audit event."""

from __future__ import annotations

import zoneinfo

import pytest
from django.utils import translation

from audit.models import AuditEvent
from mailing.errors import MailingUserError
from mailing.models import ListAdmin, Member, MemberImport, Sender
from mailing.selectors.members import members_csv_rows, members_filter
from mailing.selectors.routes import route_resolve
from mailing.services import admins, lists, member_import, members, senders
from tests.factories import member_make, unique
from tests.factories.console import managed_list_make, user_make

pytestmark = pytest.mark.usefixtures("tenant_db")


@pytest.fixture(autouse=True)
def _english():
    # Messages are translated (ja is the default language); the assertions read the English ones.
    with translation.override("en"):
        yield


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_list_create_makes_first_admin_and_sender_and_audits():
    owner = user_make(is_owner=True)
    local = unique("pta")
    created = lists.list_create(
        name="PTA 2年1組",
        local_part=local.upper(),
        admin_user=owner,
        sender_address="taro..yamada@docomo.ne.jp",
        subject_tag="[PTA]\r\nBcc: evil@example.com",
        actor=owner,
    )
    assert created.local_part == local
    assert created.subject_tag == "[PTA] Bcc: evil@example.com"  # no CR/LF: can never start a header
    assert list(created.senders.values_list("address", flat=True)) == ["taro..yamada@docomo.ne.jp"]
    assert list(created.admins.values_list("user", flat=True)) == [owner.pk]
    event = _events("list.create")[-1]
    assert event.actor == owner
    assert event.after["local_part"] == local


def test_list_create_refuses_taken_and_reserved_local_parts():
    owner = user_make(is_owner=True)
    existing = managed_list_make()
    for local_part in (existing.local_part, "postmaster", "news-join"):
        with pytest.raises(MailingUserError):
            lists.list_create(
                name="x", local_part=local_part, admin_user=owner, sender_address="a@example.com", actor=owner
            )


def test_list_update_records_before_and_after():
    mailing_list = managed_list_make(name="Old")
    lists.list_update(
        mailing_list=mailing_list,
        name="New",
        local_part=mailing_list.local_part,
        subject_tag="[N]",
        join_requires_confirmation=True,
        posts_require_authentication=True,
        actor=None,
    )
    event = _events("list.update")[-1]
    assert event.before["name"] == "Old"
    assert event.after["name"] == "New"
    assert event.after["join_requires_confirmation"] is True


def test_list_delete_needs_the_typed_local_part():
    mailing_list = managed_list_make()
    with pytest.raises(MailingUserError):
        lists.list_delete(mailing_list=mailing_list, confirmation="wrong")
    lists.list_delete(mailing_list=mailing_list, confirmation=mailing_list.local_part.upper())
    assert _events("list.delete")[-1].before["local_part"] == mailing_list.local_part


def test_member_name_with_cr_lf_is_flattened():
    mailing_list = managed_list_make()
    member = members.member_add(
        mailing_list=mailing_list, address="hanako.@ezweb.ne.jp", name="花子\r\nBcc: x@example.com\x00"
    )
    assert member.address == "hanako.@ezweb.ne.jp"
    for control in ("\r", "\n", "\x00"):
        assert control not in member.name
    assert member.name == "花子 Bcc: x@example.com"


def test_member_add_update_status_remove_are_audited():
    actor = user_make()
    mailing_list = managed_list_make()
    member = members.member_add(mailing_list=mailing_list, address="a@example.com", name="A", actor=actor)
    members.member_update(member=member, address="b@example.com", name="B", actor=actor)
    members.member_status_set(member=member, status=Member.Status.SUSPENDED, actor=actor)
    members.member_remove(member=member, actor=actor)
    actions = list(
        AuditEvent.objects.filter(mailing_list_id=mailing_list.pk, object_type="member").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == sorted(["member.add", "member.update", "member.status", "member.remove"])
    update = _events("member.update")[-1]
    assert (update.before["address"], update.after["address"]) == ("a@example.com", "b@example.com")


def test_member_update_refuses_a_duplicate_address():
    mailing_list = managed_list_make()
    member_make(mailing_list, address="taken@example.com")
    other = member_make(mailing_list, address="free@example.com")
    with pytest.raises(MailingUserError):
        members.member_update(member=other, address="TAKEN@example.com", name="")


def test_bulk_apply_touches_only_the_lists_own_members():
    mailing_list = managed_list_make()
    other_list = managed_list_make()
    mine = [member_make(mailing_list) for _ in range(3)]
    foreign = member_make(other_list)
    count = members.members_bulk_apply(
        mailing_list=mailing_list, member_ids=[m.pk for m in mine] + [foreign.pk], action="suspend"
    )
    assert count == 3
    assert set(mailing_list.members.values_list("status", flat=True)) == {"suspended"}
    foreign.refresh_from_db()
    assert foreign.status == "active"
    members.members_bulk_apply(mailing_list=mailing_list, member_ids=[mine[0].pk], action="delete")
    assert mailing_list.members.count() == 2


def test_last_sender_cannot_be_removed_but_a_second_address_can():
    mailing_list = managed_list_make()
    only = mailing_list.senders.get()
    with pytest.raises(MailingUserError, match="only sender"):
        senders.sender_remove(sender=only)
    mobile = senders.sender_add(
        mailing_list=mailing_list, address="taro..yamada@docomo.ne.jp", person_name=only.person_name
    )
    senders.sender_remove(sender=only)
    assert list(Sender.objects.filter(mailing_list=mailing_list)) == [mobile]
    with pytest.raises(MailingUserError, match="only sender"):
        senders.sender_remove(sender=mobile)


def test_last_admin_cannot_be_removed():
    mailing_list = managed_list_make()
    only = mailing_list.admins.get()
    with pytest.raises(MailingUserError, match="only admin"):
        admins.list_admin_remove(admin=only)
    second, invited = admins.list_admin_add(mailing_list=mailing_list, username=unique("new"), email="n@example.com")
    assert invited
    assert not second.user.has_usable_password()
    admins.list_admin_remove(admin=only)
    assert list(ListAdmin.objects.filter(mailing_list=mailing_list)) == [second]
    assert _events("admin.remove")[-1].before["user"] == only.user.get_username()


def test_admin_add_finds_existing_user_by_email_and_refuses_twice():
    mailing_list = managed_list_make()
    user = user_make()
    admin, invited = admins.list_admin_add(mailing_list=mailing_list, email=user.email.upper())
    assert admin.user == user
    assert not invited
    with pytest.raises(MailingUserError):
        admins.list_admin_add(mailing_list=mailing_list, username=user.username)


CSV_ROWS = [
    ("メールアドレス", "名前"),
    ("taro..yamada@docomo.ne.jp", "山田 太郎"),
    ("hanako.@ezweb.ne.jp", "鈴木 花子"),
    ("not an address", "誤り"),
    ("TARO..yamada@docomo.ne.jp", "重複"),
    ("existing@example.com", "既存"),
]


def _csv(encoding: str, rows=CSV_ROWS) -> bytes:
    text = "\r\n".join(",".join(row) for row in rows) + "\r\n\r\n"
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp932"])
def test_csv_import_previews_errors_then_imports_valid_rows_with_japanese_names(encoding):
    mailing_list = managed_list_make()
    member_make(mailing_list, address="existing@example.com")
    preview = member_import.member_import_preview(mailing_list=mailing_list, data=_csv(encoding), filename="名簿.csv")
    assert (preview.total_rows, preview.valid_rows, preview.error_count) == (5, 2, 3)
    assert preview.encoding == encoding
    assert [row["line"] for row in preview.errors] == [4, 5, 6]
    assert "line 2" in preview.errors[1]["error"]
    assert mailing_list.members.count() == 1  # the preview changes nothing
    member_import.member_import_apply(member_import=preview)
    names = dict(mailing_list.members.values_list("address", "name"))
    assert names["taro..yamada@docomo.ne.jp"] == "山田 太郎"
    assert names["hanako.@ezweb.ne.jp"] == "鈴木 花子"
    assert mailing_list.members.count() == 3
    assert _events("member.import")[-1].after["imported"] == 2
    with pytest.raises(MailingUserError):
        member_import.member_import_apply(member_import=preview)


def test_csv_import_without_header_uses_first_two_columns():
    mailing_list = managed_list_make()
    preview = member_import.member_import_preview(
        mailing_list=mailing_list, data=b"a@example.com,A\nb@example.com\n", filename="x.csv"
    )
    assert (preview.valid_rows, preview.error_count) == (2, 0)


def test_csv_import_is_all_or_nothing_when_members_changed_meanwhile():
    mailing_list = managed_list_make()
    preview = member_import.member_import_preview(
        mailing_list=mailing_list, data=b"a@example.com,A\nb@example.com,B\n", filename="x.csv"
    )
    # Someone adds b@ between preview and apply: the fresh read skips it, a@ is still imported once.
    member_make(mailing_list, address="b@example.com")
    member_import.member_import_apply(member_import=preview)
    assert sorted(mailing_list.members.values_list("address", flat=True)) == ["a@example.com", "b@example.com"]
    assert MemberImport.objects.get(pk=preview.pk).imported_count == 1


def test_csv_import_refuses_binary_garbage():
    mailing_list = managed_list_make()
    with pytest.raises(MailingUserError):
        member_import.member_import_preview(mailing_list=mailing_list, data=b"\xff\xfe\x00\x81\x00", filename="x")


def test_members_filter_searches_address_and_name_and_sorts():
    mailing_list = managed_list_make()
    member_make(mailing_list, address="b@docomo.ne.jp", name="山田")
    member_make(mailing_list, address="a@example.com", name="Suzuki", status="suspended")
    member_make(mailing_list, address="c@example.com", name="yamada")
    assert [m.address for m in members_filter(mailing_list=mailing_list, search="DOCOMO")] == ["b@docomo.ne.jp"]
    assert [m.address for m in members_filter(mailing_list=mailing_list, search="山田")] == ["b@docomo.ne.jp"]
    assert [m.address for m in members_filter(mailing_list=mailing_list, search="YAMADA")] == ["c@example.com"]
    assert [m.address for m in members_filter(mailing_list=mailing_list, status="suspended")] == ["a@example.com"]
    assert members_filter(mailing_list=mailing_list, sort="-address").first().address == "c@example.com"


def test_csv_export_has_bom_and_neutralises_formulas():
    mailing_list = managed_list_make()
    member_make(mailing_list, address="a@example.com", name="=HYPERLINK(1)")
    member_make(mailing_list, address="b@example.com", name="山田")
    text = "".join(members_csv_rows(members_filter(mailing_list=mailing_list), tz=zoneinfo.ZoneInfo("Asia/Tokyo")))
    assert text.startswith("\ufeffaddress,name,status")
    assert "'=HYPERLINK(1)" in text
    assert "b@example.com,山田,active,console," in text


def test_list_create_rename_and_delete_update_the_mx_routes_at_once(django_capture_on_commit_callbacks):
    owner = user_make(is_owner=True)
    first, second = unique("route"), unique("route")
    assert route_resolve(f"{first}@test.localhost") is None  # "no such list" is now cached
    with django_capture_on_commit_callbacks(execute=True):
        created = lists.list_create(name="R", local_part=first, admin_user=owner, sender_address="s@example.com")
    assert route_resolve(f"{first}@test.localhost").mailing_list_id == created.pk

    assert route_resolve(f"{second}@test.localhost") is None
    with django_capture_on_commit_callbacks(execute=True):
        lists.list_update(mailing_list=created, name="R", local_part=second)
    assert route_resolve(f"{second}@test.localhost").mailing_list_id == created.pk
    assert route_resolve(f"{first}@test.localhost") is None  # the old address is refused at once

    with django_capture_on_commit_callbacks(execute=True):
        lists.list_delete(mailing_list=created, confirmation=second)
    assert route_resolve(f"{second}@test.localhost") is None
