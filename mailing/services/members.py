"""Writes for list members (F3, F4). The console, the join/leave addresses and unsubscribe links all use these."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from mailing.addresses import member_address_validate
from mailing.errors import MailingUserError
from mailing.models import MailingList, Member, address_normalize


@transaction.atomic
def member_add(
    *, mailing_list: MailingList, address: str, name: str = "", source: str = Member.Source.CONSOLE
) -> Member:
    """Add a member; the address is validated and stored exactly as given. Duplicates are refused."""
    address = member_address_validate(address)
    try:
        with transaction.atomic():
            return Member.objects.create(
                mailing_list=mailing_list,
                address=address,
                address_normalized=address_normalize(address),
                name=name.strip(),
                source=source,
            )
    except IntegrityError as error:
        raise MailingUserError(f"{address} is already a member of this list.") from error


def member_get_by_address(*, mailing_list: MailingList, address: str) -> Member | None:
    return Member.objects.filter(mailing_list=mailing_list, address_normalized=address_normalize(address)).first()


@transaction.atomic
def member_remove(*, member: Member) -> None:
    """Remove a member from their list (leave address, unsubscribe link, console delete)."""
    member.delete()


@transaction.atomic
def member_status_set(*, member: Member, status: str) -> Member:
    """Suspend (配信停止) or resume (再開) delivery to a member, or mark them bouncing."""
    if status not in Member.Status.values:
        raise MailingUserError(f"unknown member status {status!r}")
    member.status = status
    if status == Member.Status.ACTIVE:
        member.bounce_score = 0
    member.save(update_fields=["status", "bounce_score", "updated_at"])
    return member
