"""Writes for list members (F3, F4). The console, the join/leave addresses and unsubscribe links all use these.

Every change writes an audit event in the same transaction (`actor` None: the mail path or the system).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit.services import audit_record, snapshot
from mailing.addresses import member_address_validate
from mailing.errors import MailingUserError
from mailing.models import MailingList, Member, PersonAddress, address_normalize

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
    address = address_validate(address)
    try:
        with transaction.atomic():
            member = Member.objects.create(
                mailing_list=mailing_list,
                address=address,
                address_normalized=address_normalize(address),
                name=person_name_clean(name),
                source=source,
                person_id=person_id_for_address(address_normalize(address)),
            )
    except IntegrityError as error:
        raise MailingUserError(_("%(address)s is already a member of this list.") % {"address": address}) from error
    audit_record(
        actor=actor,
        action="member.add",
        obj=member,
        mailing_list_id=mailing_list.pk,
        after=snapshot(member, MEMBER_FIELDS),
    )
    return member


def member_get_by_address(*, mailing_list: MailingList, address: str) -> Member | None:
    return Member.objects.filter(mailing_list=mailing_list, address_normalized=address_normalize(address)).first()


@transaction.atomic
def member_update(*, member: Member, address: str, name: str, actor: Any = None) -> Member:
    """Change a member's address or name (console)."""
    list_writable_require(member.mailing_list)
    before = snapshot(member, MEMBER_FIELDS)
    address = address_validate(address)
    member.address = address
    member.address_normalized = address_normalize(address)
    member.name = person_name_clean(name)
    member.person_id = person_id_for_address(member.address_normalized)
    try:
        with transaction.atomic():
            member.save(update_fields=["address", "address_normalized", "name", "person", "updated_at"])
    except IntegrityError as error:
        raise MailingUserError(_("%(address)s is already a member of this list.") % {"address": address}) from error
    audit_record(
        actor=actor,
        action="member.update",
        obj=member,
        mailing_list_id=member.mailing_list_id,
        before=before,
        after=snapshot(member, MEMBER_FIELDS),
    )
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
    audit_record(actor=actor, action="member.remove", obj=member, mailing_list_id=member.mailing_list_id, before=before)
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
    audit_record(
        actor=actor,
        action="member.status",
        obj=member,
        mailing_list_id=member.mailing_list_id,
        before=before,
        after=snapshot(member, MEMBER_FIELDS),
    )
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
