"""The scheduler runs its jobs in the one process that holds the advisory lock; others stand by."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection

from saas_platform.scheduler import ADVISORY_LOCK_KEY, scheduler_run

calls: list[str] = []
ran = threading.Event()


def job_probe() -> None:
    calls.append(threading.current_thread().name)
    ran.set()


@pytest.fixture
def probe_job(settings):
    settings.SCHEDULER_JOBS = [("tests.saas_platform.test_scheduler.job_probe", 0.05)]
    calls.clear()
    ran.clear()


@pytest.mark.django_db
def test_active_scheduler_runs_jobs(probe_job):
    stop = threading.Event()
    thread = threading.Thread(target=scheduler_run, kwargs={"stop": stop, "tick_seconds": 0.05}, name="leader")
    thread.start()
    try:
        assert ran.wait(10)
    finally:
        stop.set()
        thread.join(10)
    assert calls
    assert set(calls) == {"leader"}


@pytest.mark.django_db
def test_scheduler_stands_by_while_another_holds_the_lock(probe_job):
    params = {k: v for k, v in connection.get_connection_params().items() if k not in {"cursor_factory", "context"}}
    holder = psycopg.connect(**params, autocommit=True)
    try:
        assert holder.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY]).fetchone()[0]
        stop = threading.Event()
        thread = threading.Thread(
            target=scheduler_run, kwargs={"stop": stop, "tick_seconds": 0.05, "standby_seconds": 0.1}, name="standby"
        )
        thread.start()
        assert not ran.wait(1.0)  # bounded wait for something that must NOT happen
        holder.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        assert ran.wait(10), "the stand-by scheduler takes over once the lock is free"
        stop.set()
        thread.join(10)
    finally:
        holder.close()
