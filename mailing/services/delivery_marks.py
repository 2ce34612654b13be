"""Recording each copy's outcome: a mark in Redis per copy, written to PostgreSQL in bulk per batch.

Why (docs/adr/0002, "Marks"): an autocommitted UPDATE per copy cost PostgreSQL ~0.5 ms of CPU per
recipient under four concurrent senders (every update of a delivery row is a non-HOT update touching
its seven indexes, plus a commit). A mark in Redis costs one round trip and ~20 µs of Redis CPU; one
`UPDATE ... FROM unnest(...)` per batch writes them all to PostgreSQL at a fraction of the cost.

The promise is unchanged: a copy's outcome is recorded (the Redis reply awaited) before the next
copy is sent, so a worker killed mid-batch re-sends at most the copy in flight. The batch's next run
(dramatiq redelivers it; the stall job re-enqueues it) first writes the dead run's marks to
PostgreSQL, then selects what is still queued. Redis runs with AOF (appendfsync everysec): a Redis
crash can forget about a second of marks, which means duplicates, never a loss, like
synchronous_commit=off did for the per-copy UPDATE. Redis unreachable: the copy's outcome goes to
PostgreSQL directly, as before.

Marks live in one hash per (organization, broadcast, batch); the batch lock guarantees one writer.
A mark carries absolute values (attempts, not attempts + 1) and never overwrites SENT, so writing
the same marks twice (a crash between the UPDATE and the DEL) changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from json.encoder import encode_basestring_ascii

import psycopg
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from mailing.models import Broadcast, Delivery

logger = logging.getLogger(__name__)

# Unflushed marks outlive any retry of their batch; a key left by a broadcast that was deleted expires.
MARKS_TTL_SECONDS = 14 * 24 * 3600

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def marks_client() -> redis.Redis:
    """The Redis that holds the marks (the broker's, settings.REDIS_URL); thread-safe pool."""
    global _client
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10, socket_connect_timeout=5)
        return _client


def marks_key(broadcast_id: int, scope: int) -> str:
    return f"{settings.DRAMATIQ_QUEUE_PREFIX}outbound:marks:{connection.schema_name}:{broadcast_id}:{scope}"


_UPDATE_ONE = """
    UPDATE "{schema}".{table}
       SET status = %s, attempts = %s, last_response = %s, next_attempt_at = %s,
           sent_at = CASE WHEN %s THEN now() ELSE sent_at END, updated_at = now()
     WHERE id = %s AND status <> 'sent'
"""
# The marks go to PostgreSQL as one JSON object {"<delivery id>": [status, attempts, response,
# next attempt (epoch s or null), when (epoch s)], ...} joined from the stored values as they are:
# PostgreSQL's JSON parser does in C what json.loads and psycopg's array adaptation did in Python.
_UPDATE_MANY = """
    UPDATE "{schema}".{table} AS d
       SET status = u.mark->>0, attempts = (u.mark->>1)::int, last_response = u.mark->>2,
           next_attempt_at = to_timestamp((u.mark->>3)::float8),
           sent_at = CASE WHEN u.mark->>0 = 'sent' THEN to_timestamp((u.mark->>4)::float8) ELSE d.sent_at END,
           updated_at = now()
      FROM jsonb_each(%s::jsonb) AS u(id, mark)
     WHERE d.id = u.id::bigint AND d.status <> 'sent'
"""


def _names() -> dict[str, str]:
    return {"schema": connection.schema_name, "table": Delivery._meta.db_table}


def marks_flush(*, broadcast_id: int, scope: int) -> int:
    """Write the recorded marks of (broadcast, scope) to PostgreSQL in one UPDATE, then forget them.
    Returns the number of marks written. Must run outside a transaction (the UPDATE commits)."""
    key = marks_key(broadcast_id, scope)
    raw = marks_client().hgetall(key)
    if not raw:
        return 0
    marks = b"{" + b",".join(b'"%d":%s' % (int(field), value) for field, value in raw.items()) + b"}"
    with connection.cursor() as cursor:
        cursor.execute(_UPDATE_MANY.format(**_names()), [marks.decode()])
    marks_client().delete(key)
    return len(raw)


def retry_backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` failed ones (Postfix-style doubling, capped)."""
    seconds = settings.DELIVERY_RETRY_BACKOFF_SECONDS * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.DELIVERY_RETRY_MAX_BACKOFF_SECONDS))


class Recorder:
    """Records each outcome as a Redis mark (awaited) before the next copy goes out; `flush` writes
    the batch's marks to PostgreSQL. Falls back to a direct UPDATE when Redis cannot be reached."""

    def __init__(self, broadcast: Broadcast, scope: int, cursor: psycopg.Cursor) -> None:
        self.broadcast_id = broadcast.id
        self.scope = scope
        self.key = marks_key(broadcast.id, scope)
        self.cursor = cursor
        self.update_one = _UPDATE_ONE.format(**_names())
        self.client = marks_client()
        self.expiry_set = False
        self.marked_in_redis = False
        self.connection = None
        self.redis_failed = False  # once Redis fails, the rest of the batch goes to PostgreSQL directly
        key = self.key.encode()
        self.hset_prefix = b"*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n" % (len(key), key)  # RESP, packed once
        start = broadcast.started_at or broadcast.created_at
        self.deadline = start + timedelta(seconds=settings.DELIVERY_RETRY_DEADLINE_SECONDS)

    def _redis_connection(self):
        """One pooled connection held for the whole batch, commands written directly: the client's
        per-command pool checkout and retry wrapper cost the worker more CPU than the round trip."""
        if self.connection is None:
            self.connection = self.client.connection_pool.get_connection()
        return self.connection

    def _mark(self, delivery_id: int, status: str, attempts: int, response: str, next_at: datetime | None) -> None:
        # The JSON array [status, attempts, response, next attempt, when] that marks_flush sends on,
        # composed directly (json.dumps of the list cost more than the Redis round trip's CPU).
        next_epoch = "null" if next_at is None else repr(next_at.timestamp())
        value = f'["{status}",{attempts:d},{encode_basestring_ascii(response)},{next_epoch},{time.time()!r}]'.encode()
        if self.redis_failed:
            self._direct(delivery_id, status, attempts, response, next_at)
            return
        try:
            connection_ = self._redis_connection()
            if self.expiry_set:
                field = b"%d" % delivery_id
                packed = b"%s$%d\r\n%s\r\n$%d\r\n%s\r\n" % (self.hset_prefix, len(field), field, len(value), value)
                connection_.send_packed_command([packed], check_health=False)
                connection_.read_response()
            else:
                connection_.send_packed_command(
                    connection_.pack_commands(
                        [("HSET", self.key, delivery_id, value), ("EXPIRE", self.key, MARKS_TTL_SECONDS)]
                    )
                )
                connection_.read_response()
                connection_.read_response()
                self.expiry_set = True
            self.marked_in_redis = True
        except (redis.RedisError, OSError):
            logger.warning("Redis unreachable: recording delivery %s in PostgreSQL directly", delivery_id)
            self.close(broken=True)
            self.redis_failed = True
            self._direct(delivery_id, status, attempts, response, next_at)

    def _direct(self, delivery_id: int, status: str, attempts: int, response: str, next_at: datetime | None) -> None:
        params = [status, attempts, response, next_at, status == Delivery.Status.SENT, delivery_id]
        self.cursor.execute(self.update_one, params, prepare=True)

    def close(self, *, broken: bool = False) -> None:
        """Give the Redis connection back to the pool (dropped if it failed mid-command)."""
        if self.connection is not None:
            if broken:
                self.connection.disconnect()
            self.client.connection_pool.release(self.connection)
            self.connection = None

    def sent(self, delivery_id: int, attempts: int, response: str) -> None:
        self._mark(delivery_id, Delivery.Status.SENT, attempts + 1, response, None)

    def refused(self, delivery_id: int, attempts: int, code: int, response: str) -> None:
        if 400 <= code < 500:
            self.temporary(delivery_id, attempts, response)
        else:
            self.failed(delivery_id, attempts, response)

    def failed(self, delivery_id: int, attempts: int, response: str) -> None:
        self._mark(delivery_id, Delivery.Status.FAILED, attempts + 1, response, None)

    def temporary(self, delivery_id: int, attempts: int, response: str) -> None:
        next_attempt = timezone.now() + retry_backoff(attempts + 1)
        if next_attempt > self.deadline:
            self.failed(delivery_id, attempts, f"{response} (gave up: retry deadline passed)")
        else:
            self._mark(delivery_id, Delivery.Status.DEFERRED, attempts + 1, response, next_attempt)

    def flush(self) -> int:
        """Write this run's Redis marks to PostgreSQL. Nothing to do if every outcome went to
        PostgreSQL directly (Redis unreachable); if Redis went away after some marks, this raises
        and the batch is retried: its next run writes them first."""
        if not self.marked_in_redis:
            return 0
        return marks_flush(broadcast_id=self.broadcast_id, scope=self.scope)


@contextlib.contextmanager
def recording_cursor() -> Iterator[psycopg.Cursor]:
    """An autocommit cursor whose commits do not wait for the WAL flush (reset afterwards): a
    PostgreSQL crash can forget a few marks, i.e. duplicates, never a loss."""
    if not connection.get_autocommit():
        raise RuntimeError("delivery status updates must not run inside a transaction")
    with connection.cursor() as django_cursor:
        django_cursor.execute("SET synchronous_commit TO off")
        try:
            with psycopg.Cursor(connection.connection) as cursor:
                yield cursor
        finally:
            django_cursor.execute("RESET synchronous_commit")
