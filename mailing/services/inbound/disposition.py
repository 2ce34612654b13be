"""Acting on the authorization decision: distribute, hold for moderation, or reject; moderators' answers."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mailing.models import InboundMessage, ListAdmin
from mailing.services.broadcasts import broadcast_create_for_mail
from mailing.services.inbound.authentication import AuthenticationResult
from mailing.services.inbound.parse import ParsedMessage, message_parse
from mailing.services.notices import notice_language, notice_queue
from mailing.signed_links import link_url

logger = logging.getLogger(__name__)
MODERATION_PURPOSE = "moderate"


def _finish(message: InboundMessage, state: str, reasons: list[dict]) -> None:
    message.state = state
    message.decision_reasons = [*message.decision_reasons, *reasons]
    message.processed_at = timezone.now()
    message.save(update_fields=["state", "decision_reasons", "processed_at"])


def message_distribute(*, message: InboundMessage, author_address: str, rewrite_from: bool) -> None:
    broadcast = broadcast_create_for_mail(
        inbound_message=message, author_address=author_address, rewrite_from=rewrite_from
    )
    _finish(
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


def list_admin_addresses(message: InboundMessage) -> list[str]:
    """The list admins' addresses; the organization's owners when the list has no admin."""
    addresses = list(
        ListAdmin.objects.filter(mailing_list=message.mailing_list)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not addresses:
        addresses = list(
            get_user_model()
            .objects.filter(profile__is_owner=True, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    return sorted(set(addresses))


def message_hold(*, message: InboundMessage, parsed: ParsedMessage, reasons: list[dict]) -> None:
    """Keep the post for a moderator and mail each list admin a link to approve or reject it."""
    _finish(message, InboundMessage.State.HELD, reasons)
    url = link_url("mailing_moderate", MODERATION_PURPOSE, {"m": message.id})
    why = reasons[-1]["reason"] if reasons else ""
    with translation.override(notice_language()):
        subject = _("Post held for moderation: %(subject)s") % {"subject": parsed.subject or _("(no subject)")}
        body = _(
            "A post to the list %(list)s is waiting for your decision.\n\n"
            "From: %(author)s\nSubject: %(subject)s\nWhy it was held: %(why)s\n\n"
            "Open this page to approve or reject it:\n%(url)s\n"
        ) % {
            "list": message.mailing_list.local_part,
            "author": parsed.from_address or message.envelope_from,
            "subject": parsed.subject,
            "why": why,
            "url": url,
        }
    for address in list_admin_addresses(message):
        notice_queue(kind="moderation", mailing_list=message.mailing_list, to=address, subject=subject, body=body)


def notice_target_for_reject(*, message: InboundMessage, parsed: ParsedMessage, auth: AuthenticationResult) -> str:
    """Where a reject notice may go: never to <>, never to an address nobody vouched for (backscatter)."""
    if not message.envelope_from:
        return ""
    if auth.from_authenticated and parsed.from_address:
        return parsed.from_address
    if auth.return_path_authenticated:
        return message.envelope_from
    return ""


def message_reject(*, message: InboundMessage, parsed: ParsedMessage, reasons: list[dict], notify: str) -> None:
    """Refuse the post; a polite notice goes to `notify` when that is an authenticated address."""
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
    _finish(message, InboundMessage.State.REJECTED, reasons)


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
        auth = _authentication_record(message)
        notify = ""
        if message.envelope_from and auth.get("from_authenticated") and parsed.from_address:
            notify = parsed.from_address
        elif message.envelope_from and auth.get("spf_result") == "pass":
            notify = message.envelope_from
        message_reject(message=message, parsed=parsed, reasons=reasons, notify=notify)
    logger.info("moderation decided", extra={"inbound": message.id, "approve": approve})
    return message


def moderation_max_age() -> int:
    return settings.MAIL_MODERATION_MAX_AGE_SECONDS
