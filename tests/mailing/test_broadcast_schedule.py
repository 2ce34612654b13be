"""Scheduled broadcasts (F11): rows in PostgreSQL started by the scheduler's tick within seconds of
their time, across restarts, once, never when cancelled, at the new time when re-timed, late ones
marked."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import schema_context

from mailing.models import Broadcast, Delivery, WebBroadcast
from mailing.services.broadcast_schedule import broadcast_scheduled_start, scheduled_broadcasts_start_due
from mailing.services.web_broadcasts import web_broadcast_cancel, web_broadcast_schedule
from saas_platform.scheduler import scheduler_run
from tenants.models import ScheduledBroadcast
from tests.factories import mailing_list_make, member_make, unique
from tests.factories.web_broadcasts import web_broadcast_draft_make
from tests.mailing.outbound_support import ROOT, worker_environment

pytestmark = pytest.mark.slow


def _scheduled(seconds_ahead: float, members: int = 2) -> Broadcast:
    mailing_list = mailing_list_make(name="3年2組")
    for _ in range(members):
        member_make(mailing_list, address=f"{unique('guardian')}@example.jp", name="田中 一郎")
    draft = web_broadcast_draft_make([mailing_list], subject=f"予約送信 {unique('s')}")
    return web_broadcast_schedule(broadcast=draft, at=timezone.now() + timedelta(seconds=seconds_ahead), actor=None)


class SchedulerThread:
    """The real scheduler loop (advisory lock, every job of settings.SCHEDULER_JOBS) in a thread."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            scheduler_run(stop=self.stop, tick_seconds=0.2, standby_seconds=0.2)
        finally:
            connections.close_all()

    def __enter__(self) -> SchedulerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(15)


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _state(broadcast: Broadcast) -> str:
    return Broadcast.objects.filter(pk=broadcast.pk).values_list("state", flat=True).get()


def _scheduler_process(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_scheduler"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_active(process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if b"scheduler is the active one" in line:
            return
        if not line and process.poll() is not None:
            break
    raise AssertionError("the scheduler did not become active")


def test_goes_out_within_5_seconds_of_its_time_although_the_scheduler_restarted(
    committed_tenant, smtp_capture, dramatiq_worker
):
    env = worker_environment()
    first = _scheduler_process(env)
    second = None
    try:
        _wait_active(first)
        broadcast = _scheduled(seconds_ahead=6)
        first.kill()  # SIGKILL: nothing is handed over, the row in PostgreSQL is all there is
        first.wait(10)
        second = _scheduler_process(env)
        _wait_active(second)  # the lock of the killed process's session is gone with it
        captured = smtp_capture.wait_for(2, timeout=30)
        arrived = timezone.now()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(15)
    assert len(captured) == 2
    broadcast.refresh_from_db()
    assert broadcast.started_at >= broadcast.scheduled_at
    assert (broadcast.started_at - broadcast.scheduled_at).total_seconds() < 5
    assert (arrived - broadcast.scheduled_at).total_seconds() < 5 + 1  # + the relay capture's own latency
    assert WebBroadcast.objects.get(broadcast=broadcast).late_seconds is None
    assert not ScheduledBroadcast.objects.filter(broadcast_id=broadcast.pk, schema_name=connection.schema_name).exists()


def test_a_cancelled_broadcast_is_never_sent(committed_tenant, smtp_capture, dramatiq_worker):
    broadcast = _scheduled(seconds_ahead=1.5)
    web_broadcast_cancel(broadcast=broadcast, actor=None)
    with SchedulerThread():
        time.sleep(3)  # bounded: waiting for something that must not happen
    assert _state(broadcast) == Broadcast.State.CANCELLED
    assert not Delivery.objects.filter(broadcast=broadcast).exists()
    assert smtp_capture.messages == []


def test_a_retimed_broadcast_goes_out_at_the_new_time_only(committed_tenant, smtp_capture, dramatiq_worker):
    broadcast = _scheduled(seconds_ahead=1.5)
    new_time = timezone.now() + timedelta(seconds=4)
    web_broadcast_schedule(broadcast=broadcast, at=new_time, actor=None)
    with SchedulerThread():
        assert not _wait(lambda: _state(broadcast) != Broadcast.State.SCHEDULED, timeout=3.0)
        assert smtp_capture.messages == []
        assert _wait(lambda: _state(broadcast) != Broadcast.State.SCHEDULED, timeout=6.0)
    broadcast.refresh_from_db()
    assert broadcast.started_at >= new_time
    smtp_capture.wait_for(2)


def test_one_that_came_due_while_nothing_ran_is_sent_and_marked_late(committed_tenant, smtp_capture, dramatiq_worker):
    broadcast = _scheduled(seconds_ahead=60)
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    Broadcast.objects.filter(pk=broadcast.pk).update(scheduled_at=ten_minutes_ago)
    ScheduledBroadcast.objects.filter(broadcast_id=broadcast.pk, schema_name=connection.schema_name).update(
        due_at=ten_minutes_ago
    )
    assert scheduled_broadcasts_start_due() >= 1
    smtp_capture.wait_for(2)
    assert WebBroadcast.objects.get(broadcast=broadcast).late_seconds >= 600


def test_two_ticks_at_once_start_it_once(committed_tenant):
    broadcast = _scheduled(seconds_ahead=1, members=3)
    time.sleep(1.1)
    started: list[bool] = []
    schema_name = connection.schema_name

    def tick() -> None:  # what a tick does for this broadcast, from two schedulers at once
        try:
            with schema_context(schema_name):
                started.append(broadcast_scheduled_start(broadcast_id=broadcast.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(started) == [False, True]
    assert Delivery.objects.filter(broadcast=broadcast).count() == 3
