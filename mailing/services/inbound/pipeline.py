"""The worker's entry point for a stored inbound message: count the attempt, run the stages, quarantine poison.

Stages (each its own module): parse -> loops -> authentication -> authorization -> disposition for
posts; join / leave / bounce for the other addresses. The whole decision runs in one transaction
with the message row locked, so a retry or a second worker never acts twice.
"""

from __future__ import annotations

import logging
import traceback

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mailing.addresses import list_address
from mailing.models import InboundMessage
from mailing.services.inbound import authorization, bounces, disposition, membership
from mailing.services.inbound.authentication import AuthenticationResult, message_authenticate
from mailing.services.inbound.finish import message_finish
from mailing.services.inbound.loops import loop_detect
from mailing.services.inbound.parse import ParsedMessage, message_parse

logger = logging.getLogger(__name__)


def _authenticate(message: InboundMessage, parsed: ParsedMessage) -> tuple[AuthenticationResult, dict]:
    auth = message_authenticate(
        raw=bytes(message.raw),
        from_address=parsed.from_address,
        mail_from=message.envelope_from,
        peer_address=message.peer_address,
        helo=message.helo,
    )
    result = "pass" if auth.from_authenticated else ("fail" if auth.dmarc_fail else "none")
    return auth, {"rule": "authentication", "result": result, "reason": "SPF/DKIM/DMARC", "details": auth.as_record()}


def _post_process(message: InboundMessage, parsed: ParsedMessage, address: str) -> None:
    loop = loop_detect(parsed=parsed, envelope_from=message.envelope_from, list_address=address)
    loop_record = {"rule": "loops", "result": "discard" if loop.discard else "continue", "reason": loop.reason}
    if loop.discard:
        message_finish(message, InboundMessage.State.DISCARDED, [loop_record])
        return
    auth, auth_record = _authenticate(message, parsed)
    context = authorization.PostContext(mailing_list=message.mailing_list, parsed=parsed, authentication=auth)
    decision, reasons = authorization.post_authorize(context)
    reasons = [loop_record, auth_record, *reasons]
    if decision == authorization.DISTRIBUTE:
        message.decision_reasons = [*message.decision_reasons, *reasons]
        disposition.message_distribute(
            message=message, author_address=parsed.from_address, rewrite_from=auth.dmarc.strict
        )
    elif decision == authorization.HOLD:
        disposition.message_hold(message=message, parsed=parsed, reasons=reasons)
    else:
        disposition.message_reject(
            message=message,
            parsed=parsed,
            reasons=reasons,
            from_authenticated=auth.from_authenticated,
            return_path_authenticated=auth.return_path_authenticated,
        )


def _membership_process(message: InboundMessage, parsed: ParsedMessage, address: str) -> None:
    loop = loop_detect(parsed=parsed, envelope_from=message.envelope_from, list_address=address)
    if loop.discard:
        message_finish(
            message, InboundMessage.State.DISCARDED, [{"rule": "loops", "result": "discard", "reason": loop.reason}]
        )
        return
    auth, auth_record = _authenticate(message, parsed)
    message.decision_reasons = [*message.decision_reasons, auth_record]
    if message.kind == InboundMessage.Kind.JOIN:
        membership.join_process(message=message, parsed=parsed, auth=auth)
    else:
        membership.leave_process(message=message, parsed=parsed, auth=auth)


def _dispatch(message: InboundMessage) -> None:
    if message.kind == InboundMessage.Kind.POSTMASTER:
        # Kept for operators (RFC 5321 4.5.1 requires accepting it); nothing is sent automatically.
        message_finish(
            message, InboundMessage.State.DONE, [{"rule": "postmaster", "result": "kept", "reason": "for operators"}]
        )
        return
    if message.mailing_list is None:
        message_finish(
            message,
            InboundMessage.State.DISCARDED,
            [{"rule": "route", "result": "discard", "reason": "the list no longer exists"}],
        )
        return
    if message.kind == InboundMessage.Kind.BOUNCE:
        bounces.bounce_process(message=message)
        return
    parsed = message_parse(bytes(message.raw))
    if parsed.defects:
        message.decision_reasons = [
            *message.decision_reasons,
            {"rule": "parse", "result": "defects", "reason": "; ".join(parsed.defects)[:500]},
        ]
    domain = connection.tenant.get_primary_domain().domain
    address = list_address(message.mailing_list.local_part, domain)
    if message.kind == InboundMessage.Kind.POST:
        _post_process(message, parsed, address)
    else:
        _membership_process(message, parsed, address)


def _attempt_begin(inbound_message_id: int) -> bool:
    """Count this attempt in its own transaction (it must survive a crash of the processing)."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().filter(id=inbound_message_id).first()
        if message is None or message.state != InboundMessage.State.RECEIVED:
            return False
        message.processing_attempts += 1
        message.last_attempt_at = timezone.now()
        message.save(update_fields=["processing_attempts", "last_attempt_at"])
        return True


def _attempt_failed(inbound_message_id: int, error: BaseException) -> bool:
    """Record the failure; quarantine after INBOUND_MAX_ATTEMPTS. Returns True when quarantined."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().get(id=inbound_message_id)
        message.last_error = "".join(traceback.format_exception(error))[-4000:]
        fields = ["last_error"]
        quarantined = message.processing_attempts >= settings.INBOUND_MAX_ATTEMPTS
        if quarantined and message.state == InboundMessage.State.RECEIVED:
            message.state = InboundMessage.State.QUARANTINED
            message.decision_reasons = [
                *message.decision_reasons,
                {
                    "rule": "quarantine",
                    "result": "quarantined",
                    "reason": f"processing failed {message.processing_attempts} times: {type(error).__name__}: {error}"[
                        :500
                    ],
                },
            ]
            fields += ["state", "decision_reasons"]
            logger.error(
                "inbound message quarantined",
                extra={"schema": connection.schema_name, "inbound": message.id, "error": repr(error)[:300]},
            )
        message.save(update_fields=fields)
        return quarantined


def inbound_process(*, inbound_message_id: int) -> None:
    """Process one stored message. Raises on failure (the job retries) until it is quarantined."""
    if not _attempt_begin(inbound_message_id):
        return
    try:
        with transaction.atomic():
            message = (
                InboundMessage.objects.select_for_update(of=("self",))
                .select_related("mailing_list")
                .get(id=inbound_message_id)
            )
            if message.state != InboundMessage.State.RECEIVED:
                return
            _dispatch(message)
    except Exception as error:
        if _attempt_failed(inbound_message_id, error):
            return
        raise
