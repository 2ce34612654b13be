"""Acting on the authorization decision: distribute, hold for moderation, or reject; moderators' answers."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from mailing.links import link_url
from mailing.models import InboundMessage
from mailing.selectors.admins import list_admin_recipients
from mailing.services.broadcasts import broadcast_create_for_mail
from mailing.services.inbound import authorization
from mailing.services.inbound.finish import message_finish
from mailing.services.inbound.parse import ParsedMessage, message_parse
from mailing.services.notices import notice_language, notice_queue

logger = logging.getLogger(__name__)
MODERATION_PURPOSE = "moderate"


def message_distribute(*, message: InboundMessage, author_address: str, rewrite_from: bool) -> None:
    broadcast = broadcast_create_for_mail(
        inbound_message=message, author_address=author_address, rewrite_from=rewrite_from
    )
    message_finish(
        message,
        InboundMessage.State.DISTRIBUTED,
        [
            {
                "rule": "disposition",
                "result": "distribute",
                "reason": f"broadcast {broadcast.pk} created; From rewritten: {rewrite_from}",
            },
        ],
    )


def message_hold(*, message: InboundMessage, parsed: ParsedMessage, reasons: list[dict]) -> None:
    """Keep the post for a moderator and mail each list admin a link to approve or reject it, in the
    admin's own language (else the organization's); the rule's technical reason follows, labelled."""
    message_finish(message, InboundMessage.State.HELD, reasons)
    url = link_url("mailing_moderate", MODERATION_PURPOSE, {"m": message.id})
    detail = reasons[-1]["reason"] if reasons else ""
    for recipient in list_admin_recipients(message.mailing_list):
        with translation.override(recipient.language or notice_language()):
            subject = _("Post held for moderation: %(subject)s") % {"subject": parsed.subject or _("(no subject)")}
            body = _(
                "A post to the list %(list)s is waiting for your decision.\n\n"
                "From: %(author)s\nSubject: %(subject)s\nWhy it was held: %(why)s\n\n"
                "Open this page to approve or reject it:\n%(url)s\n\nTechnical detail: %(detail)s\n"
            ) % {
                "list": message.mailing_list.local_part,
                "author": parsed.from_address or message.envelope_from,
                "subject": parsed.subject,
                "why": authorization.hold_explanation(reasons),
                "url": url,
                "detail": detail,
            }
        notice_queue(
            kind="moderation", mailing_list=message.mailing_list, to=recipient.address, subject=subject, body=body
        )


def reject_notice_target(
    *, envelope_from: str, from_address: str, from_authenticated: bool, return_path_authenticated: bool
) -> str:
    """Where a reject notice may go: never to <>, never to an address nobody vouched for (backscatter)."""
    if not envelope_from:
        return ""
    if from_authenticated and from_address:
        return from_address
    if return_path_authenticated:
        return envelope_from
    return ""


def message_reject(
    *,
    message: InboundMessage,
    parsed: ParsedMessage,
    reasons: list[dict],
    from_authenticated: bool,
    return_path_authenticated: bool,
) -> None:
    """Refuse the post; a polite notice goes to the author when an authenticated address can take it."""
    notify = reject_notice_target(
        envelope_from=message.envelope_from,
        from_address=parsed.from_address,
        from_authenticated=from_authenticated,
        return_path_authenticated=return_path_authenticated,
    )
    if notify:
        reasons = [*reasons, {"rule": "notice", "result": "sent", "reason": f"reject notice to {notify}"}]
        with translation.override(notice_language()):
            subject = _("Your message to %(list)s was not distributed") % {"list": message.mailing_list.local_part}
            body = _(
                'Your message "%(subject)s" to the list %(list)s was not distributed, because only the '
                "list's registered senders may post to it.\n\nIf you think this is a mistake, please "
                "contact the list's administrator.\n"
            ) % {"subject": parsed.subject, "list": message.mailing_list.local_part}
        notice_queue(
            kind="reject",
            mailing_list=message.mailing_list,
            to=notify,
            subject=subject,
            body=body,
            answering=message,
            in_reply_to=parsed.message_id,
        )
    else:
        reasons = [
            *reasons,
            {"rule": "notice", "result": "silent", "reason": "no reject notice: null or unauthenticated return path"},
        ]
    message_finish(message, InboundMessage.State.REJECTED, reasons)


def _authentication_record(message: InboundMessage) -> dict:
    for reason in message.decision_reasons:
        if reason.get("rule") == "authentication":
            return reason.get("details", {})
    return {}


@transaction.atomic
def moderation_decide(*, inbound_message_id: int, approve: bool, moderator: str = "") -> InboundMessage:
    """A moderator's answer to a held post. Only a HELD post changes; answering twice changes nothing."""
    message = (
        InboundMessage.objects.select_for_update(of=("self",)).select_related("mailing_list").get(id=inbound_message_id)
    )
    if message.state != InboundMessage.State.HELD:
        return message
    parsed = message_parse(bytes(message.raw))
    who = moderator or "a moderator"
    if approve:
        auth = _authentication_record(message)
        rewrite = auth.get("dmarc", {}).get("policy") in {"quarantine", "reject"}
        message.decision_reasons = [
            *message.decision_reasons,
            {"rule": "moderation", "result": "approve", "reason": f"approved by {who}"},
        ]
        message_distribute(message=message, author_address=parsed.from_address, rewrite_from=rewrite)
    else:
        reasons = [{"rule": "moderation", "result": "reject", "reason": f"rejected by {who}"}]
        auth = _authentication_record(message)  # as recorded when the post was held
        message_reject(
            message=message,
            parsed=parsed,
            reasons=reasons,
            from_authenticated=bool(auth.get("from_authenticated")),
            return_path_authenticated=auth.get("spf_result") == "pass",
        )
    logger.info("moderation decided", extra={"inbound": message.id, "approve": approve})
    return message
