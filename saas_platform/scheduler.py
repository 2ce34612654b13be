"""The scheduler: one active process runs periodic jobs; others stand by.

Only the holder of a PostgreSQL advisory lock runs jobs, so several scheduler processes (one per
machine, for availability) never run the same sweep twice. Jobs are dotted paths of functions
that take no arguments, listed in settings.SCHEDULER_JOBS with their interval in seconds; each
function enqueues work or does a small sweep and returns quickly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x6D6C7073  # "mlps"


def _leader_connection() -> psycopg.Connection:
    """A connection of its own (same database as Django's): the advisory lock lives as long as it does."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def scheduler_run(*, stop: threading.Event, tick_seconds: float | None = None, standby_seconds: float = 5.0) -> None:
    # The tick is as short as the most frequent job (scheduled broadcasts: every 0.5 s, F11).
    if tick_seconds is None:
        tick_seconds = min([1.0, *(float(interval) for _, interval in settings.SCHEDULER_JOBS)])
    jobs: list[tuple[str, float, Callable[[], object]]] = [
        (path, float(interval), import_string(path)) for path, interval in settings.SCHEDULER_JOBS
    ]
    next_run = dict.fromkeys((path for path, _, _ in jobs), 0.0)
    leader: psycopg.Connection | None = None
    while not stop.is_set():
        try:
            if leader is None or leader.closed:
                leader = _leader_connection()
                got = leader.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY]).fetchone()
                if not (got and got[0]):
                    leader.close()
                    leader = None
                    stop.wait(standby_seconds)
                    continue
                logger.info("scheduler is the active one")
            now = time.monotonic()
            for path, interval, function in jobs:
                if now >= next_run[path]:
                    next_run[path] = now + interval
                    try:
                        close_old_connections()
                        function()
                    except Exception:
                        logger.exception("scheduler job failed", extra={"job": path})
        except psycopg.OperationalError:
            logger.warning("scheduler lost its database connection; retrying")
            leader = None
            stop.wait(2)
        stop.wait(tick_seconds)
    if leader is not None:
        leader.close()
    connections.close_all()
