"""Writes for broadcasts: one distribution of content to a list's active members (F1, F7, F8).

A broadcast gets one Delivery row per active member, made in one INSERT ... SELECT (fast for 100,000
members), and a fan-out plan (`batch_bounds`). After commit the first FANOUT_WINDOW batches are
enqueued; each finished batch enqueues the next (docs/adr/0002-fanout-and-delivery.md).
"""

from __future__ import annotations

import logging
from email import policy
from email.parser import BytesHeaderParser

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mailing.models import Broadcast, Delivery, InboundMessage, Member

logger = logging.getLogger(__name__)

# 16 random bytes (122 of them random: a version-4 UUID from PostgreSQL's strong random source),
# base64url without padding: 22 characters, fits Delivery.token and the VERP local part.
_DELIVERIES_CREATE_SQL = f"""
    INSERT INTO {Delivery._meta.db_table}
        (broadcast_id, member_id, address, token, status, attempts, last_response, updated_at)
    SELECT %s, m.id, m.address,
           translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/=', '-_'),
           %s, 0, '', now()
      FROM {Member._meta.db_table} m
     WHERE m.mailing_list_id = %s AND m.status = %s
     ORDER BY m.id
    RETURNING id
"""


def subject_of(raw: bytes) -> str:
    """The decoded Subject of a raw message; "" when it has none or it cannot be read."""
    try:
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        value = BytesHeaderParser(policy=policy.default).parsebytes(head + b"\r\n\r\n").get("subject", "")
        return " ".join(str(value or "").split())[:998]
    except Exception:  # a malformed header must not stop distribution
        logger.warning("unreadable subject", exc_info=True)
        return ""


def _deliveries_create(broadcast: Broadcast) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            _DELIVERIES_CREATE_SQL,
            [broadcast.id, Delivery.Status.QUEUED, broadcast.mailing_list_id, Member.Status.ACTIVE],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _fanout_plan(delivery_ids: list[int], batch_size: int) -> list[int]:
    if not delivery_ids:
        return []
    return [*delivery_ids[::batch_size], delivery_ids[-1] + 1]


@transaction.atomic
def broadcast_deliveries_plan(*, broadcast: Broadcast) -> Broadcast:
    """Make the broadcast's deliveries (one per active member) and its batches; enqueue after commit."""
    delivery_ids = _deliveries_create(broadcast)
    broadcast.batch_bounds = _fanout_plan(delivery_ids, settings.FANOUT_BATCH_SIZE)
    broadcast.recipient_count = len(delivery_ids)
    broadcast.started_at = timezone.now()
    if not delivery_ids:
        broadcast.state = Broadcast.State.SENT
        broadcast.finished_at = broadcast.started_at
    broadcast.save(update_fields=["batch_bounds", "recipient_count", "started_at", "state", "finished_at"])
    if delivery_ids:
        schema_name = connection.schema_name
        broadcast_id = broadcast.id
        batch_count = len(broadcast.batch_bounds) - 1
        transaction.on_commit(lambda: broadcast_fanout_enqueue(schema_name, broadcast_id, batch_count))
    return broadcast


def broadcast_fanout_enqueue(schema_name: str, broadcast_id: int, batch_count: int) -> None:
    """Put the first FANOUT_WINDOW batches in the queue (the rest follow as batches finish)."""
    from mailing.tasks.delivery import delivery_batch_send

    for batch_index in range(min(settings.FANOUT_WINDOW, batch_count)):
        delivery_batch_send.send(schema_name, broadcast_id, batch_index)


@transaction.atomic
def broadcast_create_for_mail(*, inbound_message: InboundMessage, author_address: str, rewrite_from: bool) -> Broadcast:
    """Distribute a post that arrived by mail (called by inbound processing, inside its transaction).

    The original stays in `inbound_message.raw`; each recipient's copy is rendered from it by the
    delivery batches. `rewrite_from`: the author's domain publishes DMARC p=quarantine/reject, so
    copies come From the list address ("Taro via All") with the author in Reply-To.
    """
    if inbound_message.mailing_list_id is None:
        raise ValueError("an inbound message without a list cannot be distributed")
    broadcast = Broadcast.objects.create(
        mailing_list_id=inbound_message.mailing_list_id,
        channel=Broadcast.Channel.MAIL,
        inbound_message=inbound_message,
        author_address=author_address[:254],
        subject=subject_of(bytes(inbound_message.raw)),
        state=Broadcast.State.SENDING,
        rewrite_from=rewrite_from,
    )
    return broadcast_deliveries_plan(broadcast=broadcast)


def broadcast_finish_if_done(*, broadcast_id: int) -> bool:
    """Mark the broadcast SENT once no delivery is still queued or deferred; True if it is (now) done."""
    final_states = (Delivery.Status.QUEUED, Delivery.Status.DEFERRED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Broadcast._meta.db_table} SET state = %s, finished_at = now()
             WHERE id = %s AND state = %s
               AND NOT EXISTS (SELECT 1 FROM {Delivery._meta.db_table}
                                WHERE broadcast_id = %s AND status IN (%s, %s))
            """,
            [Broadcast.State.SENT, broadcast_id, Broadcast.State.SENDING, broadcast_id, *final_states],
        )
        return cursor.rowcount == 1
