"""The dramatiq broker (Redis), set up once per process before any actor is declared.

Actors live in each app's `tasks.py`. Every actor takes the schema name first and runs inside
`schema_context` (DESIGN.md); DatabaseConnectionMiddleware closes connections that a job left
stale so a long-running worker never reuses a broken one.
"""

from __future__ import annotations

import dramatiq
from django.conf import settings
from django.db import close_old_connections, connections
from dramatiq.brokers.redis import RedisBroker


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


_configured = False


def broker_setup() -> dramatiq.Broker:
    global _configured
    if _configured:
        return dramatiq.get_broker()
    # A worker silent for heartbeat_timeout is considered dead and its unacknowledged messages go
    # back to the queue at the next maintenance run (one command in a million/maintenance_chance).
    broker = RedisBroker(
        url=settings.REDIS_URL,
        namespace=f"{settings.DRAMATIQ_QUEUE_PREFIX}dramatiq",
        heartbeat_timeout=settings.DRAMATIQ_HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=settings.DRAMATIQ_MAINTENANCE_CHANCE,
    )
    broker.add_middleware(DatabaseConnectionMiddleware())
    dramatiq.set_broker(broker)
    _configured = True
    return broker
