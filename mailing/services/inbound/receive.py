"""Storing what the MX accepted: one InboundMessage per recipient, committed before the 250 reply."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django_tenants.utils import schema_context

from mailing.models import InboundMessage
from mailing.selectors.routes import Route
from tenants.jobs import job_send, send_failure_logged
from tenants.services import organization_sweep_extend

Enqueue = Callable[[str, int], None]


@dataclass(frozen=True)
class Envelope:
    mail_from: str  # "" for the null sender <>
    peer_address: str | None
    helo: str


def process_inbound_enqueue(schema_name: str, inbound_message_id: int) -> None:
    """Send the processing job. Call only after commit (transaction.on_commit)."""
    job_send("process_inbound", schema_name, inbound_message_id)


@transaction.atomic
def inbound_messages_store(
    *,
    envelope: Envelope,
    recipients: list[tuple[Route, str]],
    raw: bytes,
    enqueue: Enqueue = process_inbound_enqueue,
) -> list[tuple[str, int]]:
    """Store the message once per recipient, in each recipient's organization schema; enqueue after commit.

    One transaction spans every schema (they share one database), so either all recipients are
    stored and the MX answers 250, or none are and it answers 451. A failing enqueue after the commit
    is only logged: the row stays RECEIVED and the sweeper enqueues it again.
    """
    stored: list[tuple[str, int]] = []
    for route, address in recipients:
        with schema_context(route.schema_name):
            message = InboundMessage.objects.create(
                kind=route.kind,
                mailing_list_id=route.mailing_list_id,
                envelope_from=envelope.mail_from[:512],
                envelope_to=address[:512],
                peer_address=envelope.peer_address,
                helo=envelope.helo[:255],
                raw=raw,
                size=len(raw),
            )
        stored.append((route.schema_name, message.id))
    for schema_name in sorted({schema for schema, _ in stored}):  # one order: no deadlock between MX sessions
        organization_sweep_extend(schema_name=schema_name)  # the inbound sweeper looks here
    for schema_name, message_id in stored:
        # Committed but not enqueued (broker down, crash): the inbound sweeper picks it up.
        send = functools.partial(enqueue, schema_name, message_id)
        transaction.on_commit(send_failure_logged(send, schema=schema_name, inbound=message_id))
    return stored
