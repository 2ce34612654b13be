"""Join and leave by mail (F3): LIST-join@ and LIST-leave@, with confirmation links where needed.

A join is confirmed by a link (a page with a POST button) when the list asks for it and ALWAYS when
the join mail's From is not authenticated: otherwise anybody could subscribe a stranger by forging
From. The same holds for leaving, so a forged mail cannot unsubscribe somebody else.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mailing.addresses import leave_address
from mailing.errors import MailingUserError
from mailing.models import InboundMessage, MailingList, Member
from mailing.services.inbound.authentication import AuthenticationResult
from mailing.services.inbound.parse import ParsedMessage
from mailing.services.members import member_add, member_get_by_address, member_remove
from mailing.services.notices import notice_language, notice_queue
from mailing.signed_links import link_url

JOIN_PURPOSE = "join"
LEAVE_PURPOSE = "leave"
LEAVE_LINK_MAX_AGE_SECONDS = 400 * 24 * 3600  # a welcome mail's leave link keeps working for a long time


def _done(message: InboundMessage, reasons: list[dict]) -> None:
    message.state = InboundMessage.State.DONE
    message.decision_reasons = [*message.decision_reasons, *reasons]
    message.processed_at = timezone.now()
    message.save(update_fields=["state", "decision_reasons", "processed_at"])


def _welcome_queue(mailing_list: MailingList, address: str, answering: InboundMessage | None) -> None:
    from django.db import connection

    domain = connection.tenant.get_primary_domain().domain
    url = link_url("mailing_leave", LEAVE_PURPOSE, {"l": mailing_list.id, "a": address})
    with translation.override(notice_language()):
        subject = _("Welcome to %(list)s") % {"list": mailing_list.name}
        body = _(
            "You are now a member of the list %(list)s and will receive its mail at %(address)s.\n\n"
            "To leave the list, open this page:\n%(url)s\nor send an empty mail to %(leave)s\n"
        ) % {
            "list": mailing_list.name,
            "address": address,
            "url": url,
            "leave": leave_address(mailing_list.local_part, domain),
        }
    notice_queue(kind="welcome", mailing_list=mailing_list, to=address, subject=subject, body=body, answering=answering)


def _sender_address(message: InboundMessage, parsed: ParsedMessage) -> str:
    return parsed.from_address or message.envelope_from


def join_process(*, message: InboundMessage, parsed: ParsedMessage, auth: AuthenticationResult) -> None:
    mailing_list = message.mailing_list
    address = _sender_address(message, parsed)
    if member_get_by_address(mailing_list=mailing_list, address=address) is not None:
        _done(message, [{"rule": "join", "result": "none", "reason": f"{address} is already a member"}])
        return
    confirm_because = []
    if mailing_list.join_requires_confirmation:
        confirm_because.append("the list requires confirmation")
    if not auth.from_authenticated:
        confirm_because.append("the join mail's From is not authenticated")
    if confirm_because:
        url = link_url("mailing_join", JOIN_PURPOSE, {"l": mailing_list.id, "a": address})
        with translation.override(notice_language()):
            subject = _("Please confirm joining %(list)s") % {"list": mailing_list.name}
            body = _(
                "Somebody, probably you, asked to add %(address)s to the list %(list)s.\n\n"
                "To confirm, open this page and press the button:\n%(url)s\n\n"
                "If you did not ask for this, ignore this mail: nothing happens.\n"
            ) % {"address": address, "list": mailing_list.name, "url": url}
        notice_queue(
            kind="join-confirm",
            mailing_list=mailing_list,
            to=address,
            subject=subject,
            body=body,
            answering=message,
            in_reply_to=parsed.message_id,
        )
        _done(
            message,
            [
                {
                    "rule": "join",
                    "result": "confirm",
                    "reason": f"confirmation sent to {address}: " + "; ".join(confirm_because),
                }
            ],
        )
        return
    try:
        member_add(mailing_list=mailing_list, address=address, source=Member.Source.JOIN)
    except MailingUserError as error:
        _done(message, [{"rule": "join", "result": "refused", "reason": str(error)}])
        return
    _welcome_queue(mailing_list, address, message)
    _done(message, [{"rule": "join", "result": "joined", "reason": f"{address} added (authenticated From)"}])


def leave_process(*, message: InboundMessage, parsed: ParsedMessage, auth: AuthenticationResult) -> None:
    mailing_list = message.mailing_list
    address = _sender_address(message, parsed)
    member = member_get_by_address(mailing_list=mailing_list, address=address)
    if member is None:
        _done(message, [{"rule": "leave", "result": "none", "reason": f"{address} is not a member"}])
        return
    if not auth.from_authenticated:
        url = link_url("mailing_leave", LEAVE_PURPOSE, {"l": mailing_list.id, "a": address})
        with translation.override(notice_language()):
            subject = _("Please confirm leaving %(list)s") % {"list": mailing_list.name}
            body = _(
                "Somebody, probably you, asked to remove %(address)s from the list %(list)s.\n\n"
                "To confirm, open this page and press the button:\n%(url)s\n"
            ) % {"address": address, "list": mailing_list.name, "url": url}
        notice_queue(
            kind="leave-confirm",
            mailing_list=mailing_list,
            to=member.address,
            subject=subject,
            body=body,
            answering=message,
            in_reply_to=parsed.message_id,
        )
        _done(
            message,
            [
                {
                    "rule": "leave",
                    "result": "confirm",
                    "reason": f"confirmation sent to {address}: From not authenticated",
                }
            ],
        )
        return
    member_remove(member=member)
    _done(message, [{"rule": "leave", "result": "left", "reason": f"{address} removed (authenticated From)"}])


@transaction.atomic
def join_confirm(*, mailing_list_id: int, address: str) -> tuple[MailingList, bool]:
    """The person pressed the confirm button: add them (once). Returns (list, newly added)."""
    mailing_list = MailingList.objects.get(id=mailing_list_id)
    if member_get_by_address(mailing_list=mailing_list, address=address) is not None:
        return mailing_list, False
    member_add(mailing_list=mailing_list, address=address, source=Member.Source.JOIN)
    _welcome_queue(mailing_list, address, None)
    return mailing_list, True


@transaction.atomic
def leave_confirm(*, mailing_list_id: int, address: str) -> tuple[MailingList, bool]:
    mailing_list = MailingList.objects.get(id=mailing_list_id)
    member = member_get_by_address(mailing_list=mailing_list, address=address)
    if member is None:
        return mailing_list, False
    member_remove(member=member)
    return mailing_list, True
