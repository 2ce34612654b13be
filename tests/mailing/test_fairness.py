"""One organization's large fan-out does not hold back another organization's small post."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from mailing.models import Delivery
from tests.factories import mailing_list_make
from tests.factories.outbound import eml, mail_broadcast_make
from tests.mailing.outbound_support import capture_wait_until, members_bulk_make

LARGE = 20_000
SMALL = 5


@pytest.mark.slow
def test_small_post_of_b_arrives_within_seconds_while_a_large_fanout_runs(
    committed_tenant, other_tenant, smtp_capture, dramatiq_worker, dramatiq_broker
):
    large_list = mailing_list_make()
    members_bulk_make(large_list, LARGE, prefix="a-fan-")
    connection.set_tenant(other_tenant)
    small_list = mailing_list_make()
    small = set(members_bulk_make(small_list, SMALL, prefix="b-fan-"))
    connection.set_tenant(committed_tenant)

    large_broadcast = mail_broadcast_make(large_list, raw=eml("post_minimal_no_date.eml"))
    capture_wait_until(smtp_capture, lambda messages: len(messages) >= 500, timeout=60)  # A is well under way

    connection.set_tenant(other_tenant)
    started = time.monotonic()
    mail_broadcast_make(small_list, raw=eml("post_minimal_no_date.eml"))
    messages = capture_wait_until(smtp_capture, lambda got: small <= {m.rcpt_tos[0] for m in got[-5000:]}, timeout=30)
    waited = time.monotonic() - started
    connection.set_tenant(committed_tenant)

    large_done = sum(1 for m in messages if m.rcpt_tos[0].startswith("a-fan-"))
    assert large_done < LARGE, "A finished first; the test shows nothing about fairness"
    assert waited < 5, f"B's members waited {waited:.1f}s behind A's fan-out"
    # A is not starved either: it goes on after B.
    capture_wait_until(smtp_capture, lambda got: len(got) >= large_done + SMALL + 250, timeout=30)
    assert Delivery.objects.filter(broadcast=large_broadcast, status=Delivery.Status.SENT).count() > large_done
