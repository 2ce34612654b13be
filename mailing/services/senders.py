"""Writes for registered sender addresses (F2, F5). A list always keeps at least one sender."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit.services import audit_record, snapshot
from mailing.errors import MailingUserError
from mailing.models import MailingList, Sender, address_normalize
from mailing.services.members import address_validate, person_name_clean

SENDER_FIELDS = ["address", "person_name"]


def _duplicate(address: str) -> MailingUserError:
    return MailingUserError(_("%(address)s is already a sender of this list.") % {"address": address})


@transaction.atomic
def sender_add(*, mailing_list: MailingList, address: str, person_name: str = "", actor: Any = None) -> Sender:
    """Register a sender address. One person may register several (PC, mobile): same name, other address."""
    address = address_validate(address)
    try:
        with transaction.atomic():
            sender = Sender.objects.create(
                mailing_list=mailing_list,
                address=address,
                address_normalized=address_normalize(address),
                person_name=person_name_clean(person_name),
            )
    except IntegrityError as error:
        raise _duplicate(address) from error
    audit_record(
        actor=actor,
        action="sender.add",
        obj=sender,
        mailing_list_id=mailing_list.pk,
        after=snapshot(sender, SENDER_FIELDS),
    )
    return sender


@transaction.atomic
def sender_update(*, sender: Sender, address: str, person_name: str, actor: Any = None) -> Sender:
    before = snapshot(sender, SENDER_FIELDS)
    address = address_validate(address)
    sender.address = address
    sender.address_normalized = address_normalize(address)
    sender.person_name = person_name_clean(person_name)
    try:
        with transaction.atomic():
            sender.save()
    except IntegrityError as error:
        raise _duplicate(address) from error
    audit_record(
        actor=actor,
        action="sender.update",
        obj=sender,
        mailing_list_id=sender.mailing_list_id,
        before=before,
        after=snapshot(sender, SENDER_FIELDS),
    )
    return sender


@transaction.atomic
def sender_remove(*, sender: Sender, actor: Any = None) -> None:
    """Remove a sender address, unless it is the list's last one."""
    # Lock the list row: two admins removing the last two senders at once must not both succeed.
    MailingList.objects.select_for_update().get(pk=sender.mailing_list_id)
    if Sender.objects.filter(mailing_list_id=sender.mailing_list_id).count() <= 1:
        raise MailingUserError(
            _("%(address)s is the list's only sender and cannot be removed: add another sender first.")
            % {"address": sender.address}
        )
    audit_record(
        actor=actor,
        action="sender.remove",
        obj=sender,
        mailing_list_id=sender.mailing_list_id,
        before=snapshot(sender, SENDER_FIELDS),
    )
    sender.delete()
