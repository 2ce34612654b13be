"""Stored inbound messages are kept INBOUND_RETENTION_DAYS, then their payload is removed (a scheduler job).

Mail holds people's words, addresses and attachments: the platform keeps it as long as it needs it
and says how long. After the retention period the raw message is emptied; the row stays (envelope,
size, decision and its reasons), and a distributed post's text stays in its broadcast's history
(copied to `Broadcast.body_text` first). Kept longer: messages not processed yet (RECEIVED) and posts
whose broadcast is still sending or scheduled (its copies are rendered from the raw message). A post
still held for moderation after the retention period is discarded (its moderation link expired long
before: MAIL_MODERATION_MAX_AGE_SECONDS).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from mailing.models import Broadcast, InboundMessage
from mailing.services.inbound.parse import message_parse
from tenants.selectors import organization_schema_names

logger = logging.getLogger(__name__)
BATCH = 500
_STILL_NEEDED = (Broadcast.State.SENDING, Broadcast.State.SCHEDULED)


def _expired(message: InboundMessage, now: datetime) -> None:
    broadcast = Broadcast.objects.filter(inbound_message_id=message.id).first()
    if broadcast is not None and not broadcast.body_text:
        broadcast.body_text = message_parse(bytes(message.raw)).text[:100_000]
        broadcast.save(update_fields=["body_text"])
    fields = ["raw", "payload_removed_at"]
    if message.state == InboundMessage.State.HELD:
        message.state = InboundMessage.State.DISCARDED
        message.decision_reasons = [
            *message.decision_reasons,
            {"rule": "retention", "result": "discard", "reason": "not moderated within the retention period"},
        ]
        fields += ["state", "decision_reasons"]
    message.raw = b""
    message.payload_removed_at = now
    message.save(update_fields=fields)


def inbound_payloads_expire_schema(*, now: datetime | None = None) -> int:
    """Empty the payload of this schema's messages older than the retention period; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.INBOUND_RETENTION_DAYS)
    removed = 0
    while True:
        with transaction.atomic():
            batch = list(
                InboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(received_at__lt=cutoff, payload_removed_at__isnull=True)
                .exclude(state=InboundMessage.State.RECEIVED)
                .exclude(broadcast__state__in=_STILL_NEEDED)
                .order_by("id")[:BATCH]
            )
            for message in batch:
                _expired(message, now)
        removed += len(batch)
        if len(batch) < BATCH:
            return removed


def inbound_payloads_expire() -> dict[str, int]:
    """Scheduler job (settings.SCHEDULER_JOBS, a few times a day): every organization, since old mail
    sits in organizations that have been quiet for a long time (not only in the sweep register)."""
    removed: dict[str, int] = {}
    for schema_name in organization_schema_names():
        with schema_context(schema_name):
            count = inbound_payloads_expire_schema()
        if count:
            removed[schema_name] = count
            logger.info(
                "inbound payloads removed after the retention period", extra={"schema": schema_name, "count": count}
            )
    return removed
