"""Writes for registered sender addresses (F2, F5). A list always keeps at least one sender."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import snapshot
from mailing.errors import MailingUserError
from mailing.models import MailingList, Sender
from mailing.services.members import address_row_audit, address_row_save, person_name_clean

SENDER_FIELDS = ["address", "person_name"]


def _duplicate() -> str:
    return _("%(address)s is already a sender of this list.")


@transaction.atomic
def sender_add(*, mailing_list: MailingList, address: str, person_name: str = "", actor: Any = None) -> Sender:
    """Register a sender address. One person may register several (PC, mobile): same name, other address."""
    sender = Sender(mailing_list=mailing_list, person_name=person_name_clean(person_name))
    address_row_save(sender, address=address, duplicate=_duplicate())
    address_row_audit(sender, action="sender.add", actor=actor, fields=SENDER_FIELDS)
    return sender


@transaction.atomic
def sender_update(*, sender: Sender, address: str, person_name: str, actor: Any = None) -> Sender:
    before = snapshot(sender, SENDER_FIELDS)
    sender.person_name = person_name_clean(person_name)
    address_row_save(sender, address=address, duplicate=_duplicate())
    address_row_audit(sender, action="sender.update", actor=actor, fields=SENDER_FIELDS, before=before)
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
    before = snapshot(sender, SENDER_FIELDS)
    address_row_audit(sender, action="sender.remove", actor=actor, fields=SENDER_FIELDS, before=before, removed=True)
    sender.delete()
