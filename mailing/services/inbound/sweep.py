"""The outbox sweeper (a scheduler job): messages a crash left between commit and enqueue are enqueued again."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from mailing.models import InboundMessage
from mailing.services.inbound.receive import process_inbound_enqueue
from tenants.services import organization_sweep_extend, organizations_to_sweep

logger = logging.getLogger(__name__)
# A message whose last attempt is this old is no longer waiting for a dramatiq retry of its own.
STALE_ATTEMPT = timedelta(minutes=10)


def inbound_sweep_schema(*, now=None) -> list[int]:
    """Enqueue this schema's forgotten RECEIVED messages; returns their ids."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.INBOUND_SWEEP_AFTER_SECONDS)
    ids = list(
        InboundMessage.objects.filter(state=InboundMessage.State.RECEIVED, received_at__lt=cutoff)
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=now - STALE_ATTEMPT))
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )
    for message_id in ids:
        process_inbound_enqueue(connection.schema_name, message_id)
    return ids


def inbound_sweep() -> dict[str, list[int]]:
    """For the organizations in the sweep register (tenants.services.organizations_to_sweep: those
    that stored a message lately, not every schema); one whose messages are still RECEIVED stays in it."""
    swept: dict[str, list[int]] = {}
    for schema_name in organizations_to_sweep():
        with schema_context(schema_name):
            ids = inbound_sweep_schema()
            if InboundMessage.objects.filter(state=InboundMessage.State.RECEIVED).exists():
                organization_sweep_extend(schema_name=schema_name)
        if ids:
            logger.warning("re-enqueued inbound messages", extra={"schema": schema_name, "ids": ids})
            swept[schema_name] = ids
    return swept
