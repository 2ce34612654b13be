"""A worker killed with SIGKILL mid fan-out: another finishes, every member served, duplicates at
most the messages that were in flight."""

from __future__ import annotations

import collections
import signal
import time

import pytest

from mailing.models import Broadcast, Delivery
from tests.factories import mailing_list_make
from tests.factories.outbound import eml, mail_broadcast_make
from tests.mailing.outbound_support import (
    capture_wait_until,
    members_bulk_make,
    worker_environment,
    worker_kill,
    worker_start,
)

MEMBERS = 2000
THREADS = 4


@pytest.mark.slow
def test_worker_killed_mid_fanout_loses_nothing_and_duplicates_at_most_in_flight(
    committed_tenant, smtp_capture, dramatiq_broker
):
    mailing_list = mailing_list_make()
    addresses = members_bulk_make(mailing_list, MEMBERS, prefix="crash-")
    env = worker_environment(DRAMATIQ_HEARTBEAT_TIMEOUT_MS="3000", DRAMATIQ_MAINTENANCE_CHANCE="1000000")
    first = worker_start(env, threads=THREADS)
    second = None
    try:
        broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
        capture_wait_until(smtp_capture, lambda messages: len(messages) >= 300, timeout=60)
        worker_kill(first, signal.SIGKILL)
        at_kill = len(smtp_capture.messages)
        assert at_kill < MEMBERS, "the fan-out finished before the kill; the test proves nothing"
        second = worker_start(env, threads=THREADS)
        messages = capture_wait_until(
            smtp_capture, lambda got: len({m.rcpt_tos[0] for m in got}) >= MEMBERS, timeout=120
        )
        deadline = time.monotonic() + 30
        while Broadcast.objects.get(id=broadcast.id).state != Broadcast.State.SENT:  # the last UPDATEs
            assert time.monotonic() < deadline, "broadcast not marked sent"
            time.sleep(0.1)
    finally:
        for process in (first, second):
            if process is not None:
                worker_kill(process, signal.SIGTERM)
    counts = collections.Counter(m.rcpt_tos[0] for m in messages)
    assert set(counts) == set(addresses)
    duplicates = sum(count - 1 for count in counts.values())
    assert duplicates <= THREADS, f"{duplicates} duplicates; at most the {THREADS} in-flight copies may repeat"
    assert Delivery.objects.filter(broadcast=broadcast).exclude(status=Delivery.Status.SENT).count() == 0
