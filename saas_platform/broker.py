"""The dramatiq broker (Redis), set up once per process before any actor is declared.

Actors live in each app's `tasks.py`. Every actor takes the schema name first and runs inside
`schema_context` (DESIGN.md); DatabaseConnectionMiddleware closes connections that a job left
stale so a long-running worker never reuses a broken one.
"""

from __future__ import annotations

import threading

import dramatiq
from django.conf import settings
from django.db import close_old_connections, connections
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff


class DatabaseConnectionMiddleware(dramatiq.Middleware):
    """Close stale database connections around every job, as Django does around requests."""

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        close_old_connections()

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *, result=None, exception=None
    ) -> None:
        close_old_connections()

    after_skip_message = after_process_message

    def before_worker_thread_shutdown(self, broker: dramatiq.Broker, thread: object) -> None:
        connections.close_all()


class _PromptConsumer(_RedisConsumer):
    """dramatiq's Redis consumer, except that a consumer whose prefetch slots are all taken fetches
    again as soon as one of its messages is acknowledged, not after its poll interval.

    dramatiq's consumer sleeps its backoff (up to the poll interval) between fetches, also while it
    may not fetch because every slot is taken; the ack that frees a slot (made by the worker thread)
    does not wake it. A fan-out batch waited up to 100 ms after its predecessor's ack: 10-25% of a
    200-copy batch's time. Here that one case waits on an event that `ack`/`nack` set; everything
    else is dramatiq's own `__next__` (no copy of its loop: docs/adr/0002, "The Redis consumer").
    tests/saas_platform/test_broker.py checks the wake-up.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.slot_freed = threading.Event()

    def ack(self, message) -> None:
        try:
            super().ack(message)
        finally:
            self.slot_freed.set()

    def nack(self, message) -> None:
        try:
            super().nack(message)
        finally:
            self.slot_freed.set()

    def __next__(self):
        if not self.message_cache and self.outstanding_message_count >= self.prefetch:
            self.slot_freed.clear()  # then count again: an ack from now on ends the wait
            if self.outstanding_message_count >= self.prefetch:
                self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
                self.slot_freed.wait(backoff_ms / 1000)
                return None
        return super().__next__()


class PlatformRedisBroker(RedisBroker):
    """Redis broker whose consumers poll their queue at a pace set per queue.

    dramatiq's Redis consumers poll (no blocking pop): an idle consumer waits up to its timeout
    between polls, and dramatiq gives every queue the worker's timeout (which also wakes every idle
    worker thread as often). The queues a post waits on (inbound, planning, delivery) are polled at
    most every DRAMATIQ_PROMPT_POLL_MS, so its first copies leave within a few hundred ms; every other
    queue (notices, console jobs, the delay queues of retries) at most every DRAMATIQ_IDLE_POLL_MS,
    and the worker's own timeout stays dramatiq's 1 s. Two idle worker processes (2 x 4 threads)
    used 113 ms of CPU per second with everything at 100 ms, 16 ms/s with everything at 1 s.
    """

    @property
    def consumer_class(self):
        return _PromptConsumer

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        if queue_name in settings.DRAMATIQ_PROMPT_QUEUES:
            timeout = settings.DRAMATIQ_PROMPT_POLL_MS
        else:
            timeout = max(timeout, settings.DRAMATIQ_IDLE_POLL_MS)
        return super().consume(queue_name, prefetch, timeout)


_configured = False


def broker_setup() -> dramatiq.Broker:
    global _configured
    if _configured:
        return dramatiq.get_broker()
    # A worker silent for heartbeat_timeout is considered dead and its unacknowledged messages go
    # back to the queue at the next maintenance run (one command in a million/maintenance_chance).
    broker = PlatformRedisBroker(
        url=settings.REDIS_URL,
        namespace=f"{settings.DRAMATIQ_QUEUE_PREFIX}dramatiq",
        heartbeat_timeout=settings.DRAMATIQ_HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=settings.DRAMATIQ_MAINTENANCE_CHANCE,
    )
    broker.add_middleware(DatabaseConnectionMiddleware())
    dramatiq.set_broker(broker)
    _configured = True
    return broker
