"""Join and leave by mail (F3): LIST-join@ and LIST-leave@, with confirmation links where needed.

A join is confirmed by a link (a page with a POST button) when the list asks for it and ALWAYS when
the join mail's From is not authenticated: otherwise anybody could subscribe a stranger by forging
From. The same holds for leaving, so a forged mail cannot unsubscribe somebody else.

A join can also be confirmed by replying to the confirmation mail: its Reply-To is
LIST-join+CODE@domain, where CODE is a day number and an HMAC of (organization, list, address, day)
under SECRET_KEY. Only whoever received the mail at that address knows the code, so a reply From
that address with a valid code is as good as the link (and a forged From with somebody else's
code fails: the code is bound to the address). Codes are valid for MAIL_CONFIRMATION_MAX_AGE_SECONDS.
"""

from __future__ import annotations

import base64
import hmac
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from mailing.addresses import join_reply_address, leave_address, local_part_parse
from mailing.errors import MailingUserError
from mailing.links import link_url
from mailing.models import InboundMessage, MailingList, Member
from mailing.services.inbound.authentication import AuthenticationResult
from mailing.services.inbound.finish import message_finish
from mailing.services.inbound.parse import ParsedMessage
from mailing.services.members import member_add, member_get_by_address, member_remove
from mailing.services.notices import notice_language, notice_queue

JOIN_PURPOSE = "join"
LEAVE_PURPOSE = "leave"
LEAVE_LINK_MAX_AGE_SECONDS = 400 * 24 * 3600  # a welcome mail's leave link keeps working for a long time


def _welcome_queue(mailing_list: MailingList, address: str, answering: InboundMessage | None) -> None:
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


def _today() -> int:
    return int(time.time() // 86400)


def _join_mac(mailing_list: MailingList, address: str, day: int) -> str:
    value = f"{connection.schema_name}:{mailing_list.id}:{address.lower()}:{day}"
    digest = salted_hmac("mailing.join-reply", value, algorithm="sha256").digest()
    return base64.b32encode(digest[:10]).decode().lower()  # 80 bits, 16 characters, one case


def join_reply_code(mailing_list: MailingList, address: str, *, day: int | None = None) -> str:
    """The code in the Reply-To of a join confirmation: 4 base-36 digits of the day, then the MAC."""
    day = _today() if day is None else day
    return _base36(day) + _join_mac(mailing_list, address, day)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    for _position in range(4):
        number, remainder = divmod(number, 36)
        text = digits[remainder] + text
    return text


def join_reply_code_valid(mailing_list: MailingList, address: str, code: str) -> bool:
    code = code.lower()
    try:
        day = int(code[:4], 36)
    except ValueError:
        return False
    max_days = max(1, settings.MAIL_CONFIRMATION_MAX_AGE_SECONDS // 86400)
    today = _today()
    if not today - max_days <= day <= today:
        return False
    return hmac.compare_digest(code[4:], _join_mac(mailing_list, address, day))


def _reply_code(message: InboundMessage) -> str:
    parsed = local_part_parse(message.envelope_to.rpartition("@")[0])
    return parsed.token if parsed is not None and parsed.kind == "join" else ""


def join_process(*, message: InboundMessage, parsed: ParsedMessage, auth: AuthenticationResult) -> None:
    mailing_list = message.mailing_list
    address = _sender_address(message, parsed)
    if member_get_by_address(mailing_list=mailing_list, address=address) is not None:
        message_finish(
            message,
            InboundMessage.State.DONE,
            [{"rule": "join", "result": "none", "reason": f"{address} is already a member"}],
        )
        return
    code = _reply_code(message)
    if code and join_reply_code_valid(mailing_list, address, code):
        _join_now(message, mailing_list, address, f"{address} added: replied to the confirmation mail (valid code)")
        return
    confirm_because = []
    if code:
        confirm_because.append("a reply whose code does not match its From address or has expired")
    if mailing_list.join_requires_confirmation:
        confirm_because.append("the list requires confirmation")
    if not auth.from_authenticated:
        confirm_because.append("the join mail's From is not authenticated")
    if confirm_because:
        url = link_url("mailing_join", JOIN_PURPOSE, {"l": mailing_list.id, "a": address})
        domain = connection.tenant.get_primary_domain().domain
        reply_to = join_reply_address(mailing_list.local_part, domain, join_reply_code(mailing_list, address))
        with translation.override(notice_language()):
            subject = _("Please confirm joining %(list)s") % {"list": mailing_list.name}
            body = _(
                "Somebody, probably you, asked to add %(address)s to the list %(list)s.\n\n"
                "To confirm, open this page and press the button:\n%(url)s\n\n"
                "If you did not ask for this, ignore this mail: nothing happens.\n"
            ) % {"address": address, "list": mailing_list.name, "url": url}
            if reply_to:
                body += "\n" + _("You can also confirm by replying to this mail; what you write does not matter.\n")
        notice_queue(
            reply_to=reply_to or "",
            kind="join-confirm",
            mailing_list=mailing_list,
            to=address,
            subject=subject,
            body=body,
            answering=message,
            in_reply_to=parsed.message_id,
        )
        message_finish(
            message,
            InboundMessage.State.DONE,
            [
                {
                    "rule": "join",
                    "result": "confirm",
                    "reason": f"confirmation sent to {address}: " + "; ".join(confirm_because),
                }
            ],
        )
        return
    _join_now(message, mailing_list, address, f"{address} added (authenticated From)")


def _join_now(message: InboundMessage, mailing_list: MailingList, address: str, reason: str) -> None:
    try:
        member_add(mailing_list=mailing_list, address=address, source=Member.Source.JOIN)
    except MailingUserError as error:
        message_finish(
            message, InboundMessage.State.DONE, [{"rule": "join", "result": "refused", "reason": str(error)}]
        )
        return
    _welcome_queue(mailing_list, address, message)
    message_finish(message, InboundMessage.State.DONE, [{"rule": "join", "result": "joined", "reason": reason}])


def leave_process(*, message: InboundMessage, parsed: ParsedMessage, auth: AuthenticationResult) -> None:
    mailing_list = message.mailing_list
    address = _sender_address(message, parsed)
    member = member_get_by_address(mailing_list=mailing_list, address=address)
    if member is None:
        message_finish(
            message,
            InboundMessage.State.DONE,
            [{"rule": "leave", "result": "none", "reason": f"{address} is not a member"}],
        )
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
        message_finish(
            message,
            InboundMessage.State.DONE,
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
    message_finish(
        message,
        InboundMessage.State.DONE,
        [{"rule": "leave", "result": "left", "reason": f"{address} removed (authenticated From)"}],
    )


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
