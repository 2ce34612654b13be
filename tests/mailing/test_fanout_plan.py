"""A fan-out is planned in two steps: the first window's deliveries in the inbound transaction (so the
first copies leave at once), the rest by a job; every active member still gets exactly one copy."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import dramatiq
from django.utils import timezone

from mailing.models import Broadcast, Delivery, Member
from mailing.services.broadcasts import broadcast_plan_rest
from mailing.services.delivery_batches import delivery_batch_send
from mailing.services.delivery_sweeps import deliveries_retry_enqueue_due_in_schema
from tests.factories import mailing_list_make, member_make, unique
from tests.factories.outbound import eml, mail_broadcast_make


def members_make(mailing_list, count: int, prefix: str) -> list[Member]:
    return [member_make(mailing_list, address=f"{unique(prefix)}@example.org") for _ in range(count)]


def test_first_window_is_planned_at_once_and_the_rest_by_a_job(
    committed_tenant, smtp_capture, dramatiq_worker, dramatiq_broker, settings
):
    settings.FANOUT_BATCH_SIZE = 2
    settings.FANOUT_WINDOW = 2
    settings.FANOUT_PLAN_CHUNK = 3  # step 2 in three transactions: 3 + 3 + 1
    mailing_list = mailing_list_make()
    members = members_make(mailing_list, 11, "plan")
    member_make(mailing_list, status=Member.Status.SUSPENDED)

    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    # Step 1, in the post's own transaction: two batches of two, and where step 2 resumes.
    assert broadcast.recipient_count == 4
    assert len(broadcast.batch_bounds) == 3
    assert broadcast.plan_resume_member_id == members[3].id

    captured = smtp_capture.wait_for(11)
    dramatiq_broker.join("fanout_plan", timeout=20_000)
    dramatiq_broker.join("delivery", timeout=20_000)
    assert Counter(mail.rcpt_tos[0] for mail in captured) == Counter(m.address for m in members)
    broadcast.refresh_from_db()
    assert broadcast.plan_resume_member_id is None
    assert broadcast.recipient_count == 11
    assert len(broadcast.batch_bounds) == 8  # seven batches: 2+2 | 2+1 | 2+1 | 1
    assert broadcast.state == Broadcast.State.SENT
    assert set(Delivery.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {"sent"}
    # Run again (a duplicate job): nothing more is planned or sent.
    assert broadcast_plan_rest(broadcast_id=broadcast.id) == 0
    assert Delivery.objects.filter(broadcast=broadcast).count() == 11


def test_list_that_fits_the_first_window_is_planned_in_one_step(committed_tenant, dramatiq_broker, settings):
    settings.FANOUT_BATCH_SIZE = 2
    settings.FANOUT_WINDOW = 2
    mailing_list = mailing_list_make()
    members_make(mailing_list, 3, "small")
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    assert broadcast.recipient_count == 3
    assert broadcast.plan_resume_member_id is None


def test_lost_second_step_is_run_again_by_the_scheduler_job(committed_tenant, smtp_capture, dramatiq_broker, settings):
    settings.FANOUT_BATCH_SIZE = 2
    settings.FANOUT_WINDOW = 1
    mailing_list = mailing_list_make()
    members = members_make(mailing_list, 5, "lost")
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    assert broadcast.plan_resume_member_id is not None
    dramatiq_broker.flush_all()  # the step-2 job and the first batch are lost (e.g. Redis lost them)

    # Not yet overdue: the scheduler job leaves it alone; and the broadcast is not finished.
    assert deliveries_retry_enqueue_due_in_schema(schema_name=committed_tenant.schema_name) == 0
    a_while_ago = timezone.now() - timedelta(seconds=settings.FANOUT_PLAN_STALL_SECONDS + 1)
    Broadcast.objects.filter(id=broadcast.id).update(started_at=a_while_ago)
    assert deliveries_retry_enqueue_due_in_schema(schema_name=committed_tenant.schema_name) == 1  # step 2
    worker = dramatiq.Worker(dramatiq_broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        dramatiq_broker.join("fanout_plan", timeout=20_000)
        dramatiq_broker.join("delivery", timeout=20_000)
        broadcast.refresh_from_db()
        assert broadcast.plan_resume_member_id is None
        assert broadcast.recipient_count == 5
        # The lost first batch never ran, so the chain after it waits for the stall job.
        assert broadcast.state == Broadcast.State.SENDING
        an_hour_ago = timezone.now() - timedelta(hours=1)
        Broadcast.objects.filter(id=broadcast.id).update(started_at=an_hour_ago)
        Delivery.objects.filter(broadcast=broadcast).update(updated_at=an_hour_ago)
        assert deliveries_retry_enqueue_due_in_schema(schema_name=committed_tenant.schema_name) == 3
        captured = smtp_capture.wait_for(5)
        dramatiq_broker.join("delivery", timeout=20_000)
    finally:
        worker.stop()
    assert Counter(mail.rcpt_tos[0] for mail in captured) == Counter(m.address for m in members)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENT


def test_batch_that_ended_before_its_successor_was_planned_is_followed(
    committed_tenant, smtp_capture, dramatiq_broker, settings
):
    """Step 2 runs after the first window has finished: the chain is resumed by step 2 itself."""
    settings.FANOUT_BATCH_SIZE = 2
    settings.FANOUT_WINDOW = 1
    settings.FANOUT_PLAN_CHUNK = 2
    mailing_list = mailing_list_make()
    members = members_make(mailing_list, 7, "ended")
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    dramatiq_broker.flush_all()
    # The first batch runs and ends while nothing more is planned (its job, run here directly).
    delivery_batch_send(broadcast_id=broadcast.id, batch_index=0)
    assert len(smtp_capture.wait_for(2)) == 2
    worker = dramatiq.Worker(dramatiq_broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        assert broadcast_plan_rest(broadcast_id=broadcast.id) == 5
        captured = smtp_capture.wait_for(7)
        dramatiq_broker.join("delivery", timeout=20_000)
    finally:
        worker.stop()
    assert Counter(mail.rcpt_tos[0] for mail in captured) == Counter(m.address for m in members)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENT
