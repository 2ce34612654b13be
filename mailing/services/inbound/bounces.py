"""Bounces at the VERP address LIST-bounces+TOKEN@: which delivery failed, and when to stop sending.

The token (mailing.Delivery.token) names the delivery, so attribution does not depend on parsing
the report; flufl.bounce only tells whether the report is a permanent failure (counted), a temporary
one (recorded, not counted) or no failure at all (an auto-reply to the return path: dropped).
"""

from __future__ import annotations

import email
import logging

from django.conf import settings
from django.db.models import F
from django.utils import translation
from django.utils.translation import gettext as _
from flufl.bounce import all_failures

from mailing.addresses import local_part_parse
from mailing.models import Delivery, InboundMessage, Member
from mailing.selectors.admins import list_admin_recipients
from mailing.services.inbound.finish import message_finish
from mailing.services.members import member_status_set
from mailing.services.notices import notice_language, notice_queue

logger = logging.getLogger(__name__)


def _finish(message: InboundMessage, state: str, reason: str, result: str) -> None:
    message_finish(message, state, [{"rule": "bounce", "result": result, "reason": reason}])


def failures_detect(raw: bytes) -> tuple[set[str], set[str]]:
    """(temporary, permanent) failing addresses reported by a bounce; empty sets when it is no bounce."""
    try:
        temporary, permanent = all_failures(email.message_from_bytes(raw))
    except Exception:
        logger.info("bounce report unreadable", exc_info=True)
        return set(), set()

    def text(values) -> set[str]:
        return {v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values}

    return text(temporary), text(permanent)


def bounce_process(*, message: InboundMessage) -> None:
    local_part = message.envelope_to.rpartition("@")[0]
    parsed = local_part_parse(local_part)
    token = parsed.token if parsed else ""
    delivery = (
        Delivery.objects.select_related("member", "broadcast")
        .filter(token=token, broadcast__mailing_list=message.mailing_list)
        .first()
        if token
        else None
    )
    if delivery is None:
        _finish(message, InboundMessage.State.DISCARDED, f"no delivery has the token {token!r}", "unknown")
        return
    temporary, permanent = failures_detect(bytes(message.raw))
    if not permanent:
        if temporary:
            _finish(message, InboundMessage.State.DONE, f"temporary failure for delivery {delivery.id}", "temporary")
        else:
            _finish(message, InboundMessage.State.DISCARDED, "no delivery failure in the report", "not-a-bounce")
        return
    if delivery.status == Delivery.Status.BOUNCED:
        _finish(message, InboundMessage.State.DONE, f"delivery {delivery.id} already counted", "duplicate")
        return
    delivery.status = Delivery.Status.BOUNCED
    delivery.last_response = ("bounce: " + ", ".join(sorted(permanent)))[:1000]
    delivery.save(update_fields=["status", "last_response", "updated_at"])
    member = delivery.member
    if member is None:
        _finish(message, InboundMessage.State.DONE, f"delivery {delivery.id} bounced; member gone", "bounced")
        return
    Member.objects.filter(id=member.id).update(bounce_score=F("bounce_score") + 1)
    member.refresh_from_db()
    reason = f"delivery {delivery.id} to member {member.id} bounced; score {member.bounce_score}"
    if member.bounce_score >= settings.MAIL_BOUNCE_THRESHOLD and member.status == Member.Status.ACTIVE:
        member_status_set(member=member, status=Member.Status.BOUNCING)
        _suspension_notify(message, member)
        reason += f"; threshold {settings.MAIL_BOUNCE_THRESHOLD} reached: delivery suspended, admins told"
    _finish(message, InboundMessage.State.DONE, reason, "bounced")


def _suspension_notify(message: InboundMessage, member: Member) -> None:
    """Tell the list's admins, each in their own language (else the organization's)."""
    for recipient in list_admin_recipients(message.mailing_list):
        with translation.override(recipient.language or notice_language()):
            subject = _("Delivery to %(address)s suspended") % {"address": member.address}
            body = _(
                "Mail from the list %(list)s to %(address)s bounced %(count)s times, so delivery to this member "
                "is suspended. You can resume it in the console once the address works again.\n"
            ) % {"list": message.mailing_list.local_part, "address": member.address, "count": member.bounce_score}
        notice_queue(
            kind="bounce-suspended", mailing_list=message.mailing_list, to=recipient.address, subject=subject, body=body
        )
