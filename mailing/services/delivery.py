"""Sending each recipient their own copy, and recording what the relay said (docs/adr/0002).

- A batch renders and sends its deliveries over one reused SMTP connection.
- Each delivery is marked right after the relay's reply, in its own tiny autocommit transaction
  with synchronous_commit off (cheap; the worst a PostgreSQL crash can do is forget a few "sent"
  marks, which means a duplicate, never a loss). A worker killed mid-batch therefore re-sends at
  most the message that was in flight when the batch runs again.
- 2xx: SENT. 4xx: DEFERRED, retried with backoff until DELIVERY_RETRY_DEADLINE_SECONDS after the
  broadcast started, then FAILED. 5xx: FAILED, never retried (RFC 5321 §4.2.1).
- The relay going away mid-batch: reconnect and go on; if it cannot be reached, the rest of the
  batch is DEFERRED like a 4xx.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import smtplib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import get_tenant_model, schema_context

from mailing.models import Broadcast, Delivery
from mailing.rendering import BroadcastRenderer, ListContext, Recipient, RenderedMessage, renderer_build
from mailing.services.broadcasts import broadcast_finish_if_done
from mailing.smtp import relay_connect

logger = logging.getLogger(__name__)

RECONNECTS_PER_BATCH = 3
RETRY_LOCK_KEY = -1  # batch indexes are >= 0


# --- Renderers, prepared once per broadcast per worker process --------------------------------


class _RendererCache:
    """The last few broadcasts' prepared renderers: a batch reuses the parse and the body hash."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[str, int], BroadcastRenderer] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, broadcast: Broadcast) -> BroadcastRenderer:
        key = (connection.schema_name, broadcast.id)
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        renderer = renderer_build(broadcast, list_context(broadcast))
        with self.lock:
            self.entries[key] = renderer
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return renderer

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


renderer_cache = _RendererCache()


def list_context(broadcast: Broadcast) -> ListContext:
    mailing_list = broadcast.mailing_list
    domain = connection.tenant.get_primary_domain()
    return ListContext(
        local_part=mailing_list.local_part,
        name=mailing_list.name,
        subject_tag=mailing_list.subject_tag,
        domain=domain.domain,
        dkim_selector=domain.dkim_selector,
        dkim_private_key=domain.dkim_private_key,
    )


# --- Recording outcomes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    id: int
    address: str
    token: str
    name: str
    attempts: int


_UPDATE_SENT = f"""
    UPDATE {Delivery._meta.db_table}
       SET status = %s, attempts = attempts + 1, last_response = %s, sent_at = now(),
           next_attempt_at = NULL, updated_at = now()
     WHERE id = %s
"""
_UPDATE_OUTCOME = f"""
    UPDATE {Delivery._meta.db_table}
       SET status = %s, attempts = attempts + 1, last_response = %s, next_attempt_at = %s, updated_at = now()
     WHERE id = %s
"""


def retry_backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` failed ones (Postfix-style doubling, capped)."""
    seconds = settings.DELIVERY_RETRY_BACKOFF_SECONDS * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.DELIVERY_RETRY_MAX_BACKOFF_SECONDS))


class _Recorder:
    def __init__(self, cursor, broadcast: Broadcast) -> None:
        self.cursor = cursor
        start = broadcast.started_at or broadcast.created_at
        self.deadline = start + timedelta(seconds=settings.DELIVERY_RETRY_DEADLINE_SECONDS)

    def sent(self, pending: _Pending, response: str) -> None:
        self.cursor.execute(_UPDATE_SENT, [Delivery.Status.SENT, response, pending.id])

    def refused(self, pending: _Pending, code: int, response: str) -> None:
        if 400 <= code < 500:
            self.temporary(pending, response)
        else:
            self.cursor.execute(_UPDATE_OUTCOME, [Delivery.Status.FAILED, response, None, pending.id])

    def temporary(self, pending: _Pending, response: str) -> None:
        next_attempt = timezone.now() + retry_backoff(pending.attempts + 1)
        if next_attempt > self.deadline:
            response = f"{response} (gave up: retry deadline passed)"
            self.cursor.execute(_UPDATE_OUTCOME, [Delivery.Status.FAILED, response, None, pending.id])
        else:
            self.cursor.execute(_UPDATE_OUTCOME, [Delivery.Status.DEFERRED, response, next_attempt, pending.id])


@contextlib.contextmanager
def _fast_status_cursor() -> Iterator:
    """An autocommit cursor whose commits do not wait for the WAL flush (reset afterwards)."""
    if not connection.get_autocommit():
        raise RuntimeError("delivery status updates must not run inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
        try:
            yield cursor
        finally:
            cursor.execute("RESET synchronous_commit")


# --- SMTP -----------------------------------------------------------------------------------------


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"[:1000]


def _closing(code: int, reply: bytes) -> None:
    # RFC 5321 §3.8: 421 means the server is closing the channel; treat it as a dropped connection.
    if code == 421:
        raise smtplib.SMTPServerDisconnected(_reply_text(code, reply))


def _transmit(relay: smtplib.SMTP, message: RenderedMessage) -> tuple[int, str]:
    """One MAIL/RCPT/DATA transaction; returns the deciding reply. Connection errors propagate."""
    code, reply = relay.mail(message.envelope_from)
    _closing(code, reply)
    if code != 250:
        relay.rset()
        return code, _reply_text(code, reply)
    code, reply = relay.rcpt(message.envelope_to)
    _closing(code, reply)
    if code not in (250, 251):
        relay.rset()
        return code, _reply_text(code, reply)
    try:
        code, reply = relay.data(message.data)
    except smtplib.SMTPDataError as error:  # DATA itself refused (no 354)
        _closing(error.smtp_code, error.smtp_error)
        relay.rset()
        return error.smtp_code, _reply_text(error.smtp_code, error.smtp_error)
    _closing(code, reply)
    return code, _reply_text(code, reply)


def _relay_close(relay: smtplib.SMTP | None) -> None:
    if relay is None:
        return
    try:
        relay.quit()
    except (smtplib.SMTPException, OSError):
        relay.close()


def _deliveries_send(broadcast: Broadcast, pending: list[_Pending]) -> None:
    if not pending:
        return
    renderer = renderer_cache.get(broadcast)
    relay: smtplib.SMTP | None = None
    failures = 0
    index = 0
    with _fast_status_cursor() as cursor:
        recorder = _Recorder(cursor, broadcast)
        try:
            while index < len(pending):
                item = pending[index]
                try:
                    if relay is None:
                        relay = relay_connect()
                        relay.ehlo_or_helo_if_needed()
                    message = renderer.render(Recipient(address=item.address, name=item.name, token=item.token))
                    code, reply = _transmit(relay, message)
                except (smtplib.SMTPException, OSError) as error:
                    # The relay went away (or never answered): the message in flight may or may not
                    # have arrived; it is sent again on a new connection (at most one duplicate).
                    _relay_close(relay)
                    relay = None
                    failures += 1
                    if failures > RECONNECTS_PER_BATCH:
                        logger.warning("relay unreachable; deferring the rest of the batch", exc_info=True)
                        for rest in pending[index:]:
                            recorder.temporary(rest, f"451 relay unreachable: {error}"[:1000])
                        return
                    continue
                if 200 <= code < 300:
                    recorder.sent(item, reply)
                else:
                    recorder.refused(item, code, reply)
                index += 1
        finally:
            _relay_close(relay)


# --- Locks: one run of a batch at a time ----------------------------------------------------------


@contextlib.contextmanager
def _batch_lock(broadcast_id: int, batch_index: int) -> Iterator[bool]:
    """A session advisory lock per (organization, broadcast, batch): a duplicate message of a batch
    (dramatiq is at-least-once) waits for nothing and sends nothing while the first run is going.
    PostgreSQL releases it if the worker dies."""
    key = f"{connection.schema_name}.broadcast.{broadcast_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s), %s)", [key, batch_index])
        acquired = bool(cursor.fetchone()[0])
        try:
            yield acquired
        finally:
            if acquired:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", [key, batch_index])


def _pending(queryset) -> list[_Pending]:
    rows = queryset.order_by("id").values_list("id", "address", "token", "member__name", "attempts")
    return [_Pending(id=i, address=a, token=t, name=n or "", attempts=k) for i, a, t, n, k in rows]


# --- Services -------------------------------------------------------------------------------------


def delivery_batch_send(*, broadcast_id: int, batch_index: int) -> None:
    """Send one batch of a broadcast's fan-out, then enqueue the batch FANOUT_WINDOW places later."""
    broadcast = Broadcast.objects.select_related("mailing_list").filter(id=broadcast_id).first()
    if broadcast is None or broadcast.state == Broadcast.State.CANCELLED:
        return
    bounds = broadcast.batch_bounds
    if batch_index + 1 >= len(bounds):
        return
    with _batch_lock(broadcast_id, batch_index) as acquired:
        if not acquired:
            return  # another run of this batch is sending it and will enqueue the next
        pending = _pending(
            Delivery.objects.filter(
                broadcast_id=broadcast_id,
                id__gte=bounds[batch_index],
                id__lt=bounds[batch_index + 1],
                status=Delivery.Status.QUEUED,
            )
        )
        _deliveries_send(broadcast, pending)
    following = batch_index + settings.FANOUT_WINDOW
    if following + 1 < len(bounds):
        from mailing.tasks.delivery import delivery_batch_send as batch_actor

        batch_actor.send(connection.schema_name, broadcast_id, following)
    broadcast_finish_if_done(broadcast_id=broadcast_id)


def delivery_retry_send(*, broadcast_id: int) -> None:
    """Send a broadcast's deferred deliveries whose next attempt is due."""
    broadcast = Broadcast.objects.select_related("mailing_list").filter(id=broadcast_id).first()
    if broadcast is None:
        return
    with _batch_lock(broadcast_id, RETRY_LOCK_KEY) as acquired:
        if not acquired:
            return
        pending = _pending(
            Delivery.objects.filter(
                broadcast_id=broadcast_id, status=Delivery.Status.DEFERRED, next_attempt_at__lte=timezone.now()
            )
        )
        _deliveries_send(broadcast, pending)
    broadcast_finish_if_done(broadcast_id=broadcast_id)


def deliveries_retry_enqueue_due_in_schema(*, schema_name: str) -> int:
    """Enqueue retries of due deferred deliveries, and batches whose queued deliveries stalled
    (their enqueue was lost, e.g. Redis was down at commit). Returns the number of jobs enqueued."""
    from mailing.tasks.delivery import delivery_batch_send as batch_actor
    from mailing.tasks.delivery import delivery_retry_send as retry_actor

    now = timezone.now()
    enqueued = 0
    due = (
        Delivery.objects.filter(status=Delivery.Status.DEFERRED, next_attempt_at__lte=now)
        .values_list("broadcast_id", flat=True)
        .distinct()
    )
    for broadcast_id in due:
        retry_actor.send(schema_name, broadcast_id)
        enqueued += 1
    stalled_before = now - timedelta(seconds=settings.FANOUT_STALL_SECONDS)
    stalled = Delivery.objects.filter(status=Delivery.Status.QUEUED, updated_at__lt=stalled_before).values_list(
        "broadcast_id", "id"
    )
    batches: set[tuple[int, int]] = set()
    bounds_of: dict[int, list[int]] = {}
    for broadcast_id, delivery_id in stalled.iterator():
        if broadcast_id not in bounds_of:
            bounds_of[broadcast_id] = Broadcast.objects.values_list("batch_bounds", flat=True).get(id=broadcast_id)
        batches.add((broadcast_id, bisect.bisect_right(bounds_of[broadcast_id], delivery_id) - 1))
    for broadcast_id, batch_index in sorted(batches):
        if batch_index >= 0:
            batch_actor.send(schema_name, broadcast_id, batch_index)
            enqueued += 1
    return enqueued


def deliveries_retry_enqueue_due() -> int:
    """Scheduler job (settings.SCHEDULER_JOBS): retries and stalled batches of every organization."""
    schemas = (
        get_tenant_model()
        .objects.exclude(schema_name__in=[settings.PUBLIC_SCHEMA_NAME, settings.TENANT_TEMPLATE_SCHEMA])
        .values_list("schema_name", flat=True)
    )
    enqueued = 0
    for schema_name in list(schemas):
        with schema_context(schema_name):
            enqueued += deliveries_retry_enqueue_due_in_schema(schema_name=schema_name)
    return enqueued
