"""Writes for list members (F3, F4). The console, the join/leave addresses and unsubscribe links all use these.

Every change writes an audit event in the same transaction (`actor` None: the mail path or the system).
`address_validate`, `person_name_clean`, `address_row_save` and `address_row_audit` are how any address
on a list (a member, a sender) is checked, stored and audited.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit.services import audit_record, snapshot
from mailing.addresses import member_address_validate
from mailing.errors import MailingUserError
from mailing.models import MailingList, Member, PersonAddress, Sender, address_normalize

MEMBER_FIELDS = ["address", "name", "status", "source"]
BULK_ACTIONS = ("suspend", "resume", "delete")


def address_validate(address: str) -> str:
    """`member_address_validate` with the console's translated message (Japanese carrier addresses
    such as taro..yamada@docomo.ne.jp pass)."""
    try:
        return member_address_validate(address)
    except MailingUserError as error:
        raise MailingUserError(
            _("'%(address)s' is not a valid mail address.") % {"address": address.strip()[:254]}
        ) from error


def person_name_clean(name: str) -> str:
    """A display name safe to show and to put into a header later: control characters (CR, LF, TAB,
    NUL...) and Unicode format characters become spaces, runs of spaces collapse, length is capped."""
    cleaned = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in name)
    return " ".join(cleaned.split())[:200]


def list_writable_require(mailing_list: MailingList) -> None:
    """An archived list is read-only: its members are kept as they were (the yearly rollover's archive)."""
    if mailing_list.archived_at is not None:
        raise MailingUserError(
            _("%(list)s is archived (read-only): its members cannot be changed.") % {"list": mailing_list.name}
        )


def person_id_for_address(address_normalized: str) -> int | None:
    """The person who holds this address, if any (Member.person follows PersonAddress)."""
    people = PersonAddress.objects.filter(address_normalized=address_normalized)
    return people.values_list("person_id", flat=True).first()


def address_row_save(
    row: Member | Sender, *, address: str, duplicate: str, update_fields: list[str] | None = None
) -> None:
    """Store `address` on a member or sender row (validated, kept exactly as given, normalized for
    uniqueness) and save the row. An address the list already has becomes the person's error
    `duplicate` (a message with %(address)s), not a database error."""
    row.address = address_validate(address)
    row.address_normalized = address_normalize(row.address)
    try:
        with transaction.atomic():
            row.save(update_fields=update_fields)
    except IntegrityError as error:
        raise MailingUserError(duplicate % {"address": row.address}) from error


def address_row_audit(
    row: Member | Sender,
    *,
    action: str,
    actor: Any,
    fields: list[str],
    before: dict | None = None,
    removed: bool = False,
) -> None:
    """The audit event of a change to a member or sender row: `before` as given, `after` the row as it is
    now (none when it is being removed)."""
    after = None if removed else snapshot(row, fields)
    audit_record(actor=actor, action=action, obj=row, mailing_list_id=row.mailing_list_id, before=before, after=after)


@transaction.atomic
def member_add(
    *,
    mailing_list: MailingList,
    address: str,
    name: str = "",
    source: str = Member.Source.CONSOLE,
    actor: Any = None,
) -> Member:
    """Add a member; the address is validated and stored exactly as given. Duplicates are refused."""
    list_writable_require(mailing_list)
    member = Member(
        mailing_list=mailing_list,
        name=person_name_clean(name),
        source=source,
        person_id=person_id_for_address(address_normalize(address)),
    )
    address_row_save(member, address=address, duplicate=_("%(address)s is already a member of this list."))
    address_row_audit(member, action="member.add", actor=actor, fields=MEMBER_FIELDS)
    return member


def member_get_by_address(*, mailing_list: MailingList, address: str) -> Member | None:
    return Member.objects.filter(mailing_list=mailing_list, address_normalized=address_normalize(address)).first()


@transaction.atomic
def member_update(*, member: Member, address: str, name: str, actor: Any = None) -> Member:
    """Change a member's address or name (console)."""
    list_writable_require(member.mailing_list)
    before = snapshot(member, MEMBER_FIELDS)
    member.name = person_name_clean(name)
    member.person_id = person_id_for_address(address_normalize(address))
    address_row_save(
        member,
        address=address,
        duplicate=_("%(address)s is already a member of this list."),
        update_fields=["address", "address_normalized", "name", "person", "updated_at"],
    )
    address_row_audit(member, action="member.update", actor=actor, fields=MEMBER_FIELDS, before=before)
    return member


@transaction.atomic
def member_remove(*, member: Member, actor: Any = None) -> None:
    """Remove a member from their list (leave address, unsubscribe link, console delete).

    Console removals (an actor) respect an archived list's read-only state; the mail paths never
    reach an archived list (its addresses are refused at RCPT) but a message stored just before the
    archiving is still honoured."""
    if actor is not None:
        list_writable_require(member.mailing_list)
    before = snapshot(member, MEMBER_FIELDS)
    address_row_audit(member, action="member.remove", actor=actor, fields=MEMBER_FIELDS, before=before, removed=True)
    member.delete()


@transaction.atomic
def member_status_set(*, member: Member, status: str, actor: Any = None) -> Member:
    """Suspend (配信停止) or resume (再開) delivery to a member, or mark them bouncing."""
    if status not in Member.Status.values:
        raise MailingUserError(f"unknown member status {status!r}")
    if actor is not None:
        list_writable_require(member.mailing_list)
    before = snapshot(member, MEMBER_FIELDS)
    member.status = status
    if status == Member.Status.ACTIVE:
        member.bounce_score = 0
    member.save(update_fields=["status", "bounce_score", "updated_at"])
    address_row_audit(member, action="member.status", actor=actor, fields=MEMBER_FIELDS, before=before)
    return member


@transaction.atomic
def members_bulk_apply(*, mailing_list: MailingList, member_ids: list[int], action: str, actor: Any = None) -> int:
    """Suspend, resume or delete the chosen members of one list; returns how many were changed.

    Ids of other lists are ignored (a forged form cannot reach them)."""
    if action not in BULK_ACTIONS:
        raise MailingUserError(_("Choose an action."))
    list_writable_require(mailing_list)
    members = list(Member.objects.select_for_update().filter(mailing_list=mailing_list, pk__in=member_ids))
    for member in members:
        if action == "delete":
            member_remove(member=member, actor=actor)
        else:
            status = Member.Status.SUSPENDED if action == "suspend" else Member.Status.ACTIVE
            if member.status != status:
                member_status_set(member=member, status=status, actor=actor)
    return len(members)
