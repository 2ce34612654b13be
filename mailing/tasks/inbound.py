"""Actors of the inbound path: processing a stored message, sending a notice."""

from __future__ import annotations

import dramatiq
from django.conf import settings

from mailing.services import notices
from mailing.services.inbound import pipeline
from tenants.jobs import tenant_context


@dramatiq.actor(
    queue_name="inbound",
    max_retries=settings.INBOUND_MAX_ATTEMPTS,
    min_backoff=settings.INBOUND_RETRY_MIN_BACKOFF_MS,
    time_limit=120_000,
)
def process_inbound(schema_name: str, inbound_message_id: int) -> None:
    """Parse, authorize and act on one stored message; poison messages end in quarantine (pipeline)."""
    with tenant_context(schema_name):
        pipeline.inbound_process(inbound_message_id=inbound_message_id)


@dramatiq.actor(
    queue_name="notices", max_retries=12, min_backoff=settings.INBOUND_RETRY_MIN_BACKOFF_MS, time_limit=60_000
)
def send_notice(schema_name: str, notice_id: int) -> None:
    """Send one stored notice (welcome, confirmation, moderation, reject, bounce warning) through the relay."""
    with tenant_context(schema_name):
        notices.notice_send(notice_id=notice_id)
