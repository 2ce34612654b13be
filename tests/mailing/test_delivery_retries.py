"""Relay replies decide each delivery: 4xx retried with backoff until a deadline, 5xx failed for good,
a dropped connection resumes on a new one."""

from __future__ import annotations

from datetime import timedelta

import dramatiq
import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone
from django.utils.module_loading import import_string

from mailing.models import Broadcast, Delivery, Member
from mailing.services.delivery_sweeps import deliveries_retry_enqueue_due, deliveries_retry_enqueue_due_in_schema
from tests.factories import mailing_list_make, member_make, unique
from tests.factories.outbound import eml, mail_broadcast_make
from tests.mail_fixtures import CaptureHandler, SmtpCapture, free_port


def addresses(prefix: str, count: int) -> list[str]:
    return [f"{unique(prefix)}@example.org" for _ in range(count)]


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining-relay", "relay-without-pipelining"])
def test_temporary_failure_is_deferred_then_retried_and_permanent_failure_never_is(
    committed_tenant, smtp_capture, dramatiq_worker, dramatiq_broker, pipelining
):
    smtp_capture.handler.pipelining = pipelining
    mailing_list = mailing_list_make()
    ok, temporary, permanent = (member_make(mailing_list, address=a) for a in addresses("r", 3))
    smtp_capture.reply_to_recipient(temporary.address, "451 4.3.0 mailbox busy, try later")
    smtp_capture.reply_to_recipient(permanent.address, "550 5.1.1 no such user")

    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    smtp_capture.wait_for(1)
    dramatiq_broker.join("delivery", timeout=20_000)

    by_member = {d.member_id: d for d in Delivery.objects.filter(broadcast=broadcast)}
    assert by_member[ok.id].status == Delivery.Status.SENT
    deferred = by_member[temporary.id]
    assert deferred.status == Delivery.Status.DEFERRED
    assert deferred.last_response.startswith("451 4.3.0")
    assert deferred.attempts == 1
    wait = deferred.next_attempt_at - timezone.now()
    assert timedelta(seconds=280) < wait <= timedelta(seconds=300)
    assert by_member[permanent.id].status == Delivery.Status.FAILED
    assert by_member[permanent.id].last_response.startswith("550 5.1.1")
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENDING  # a deferred delivery is not final

    # Not due yet: the scheduler job leaves it alone.
    assert deliveries_retry_enqueue_due_in_schema(schema_name=committed_tenant.schema_name) == 0
    smtp_capture.handler.rcpt_replies.clear()  # the relay recovers
    Delivery.objects.filter(id=deferred.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert deliveries_retry_enqueue_due() >= 1
    captured = smtp_capture.wait_for(2)
    dramatiq_broker.join("delivery", timeout=20_000)

    assert sorted(mail.rcpt_tos[0] for mail in captured) == sorted([ok.address, temporary.address])
    deferred.refresh_from_db()
    assert deferred.status == Delivery.Status.SENT
    assert deferred.attempts == 2
    failed = Delivery.objects.get(id=by_member[permanent.id].id)
    assert failed.status == Delivery.Status.FAILED
    assert failed.attempts == 1
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENT
    assert broadcast.finished_at is not None


def test_retry_job_is_scheduled_every_minute(settings):
    assert ("mailing.services.delivery_sweeps.deliveries_retry_enqueue_due", 60.0) in settings.SCHEDULER_JOBS
    assert (
        import_string("mailing.services.delivery_sweeps.deliveries_retry_enqueue_due") is deliveries_retry_enqueue_due
    )


def test_temporary_failure_after_the_deadline_fails(
    committed_tenant, smtp_capture, dramatiq_worker, dramatiq_broker, settings
):
    settings.DELIVERY_RETRY_DEADLINE_SECONDS = 60  # less than the first backoff
    mailing_list = mailing_list_make()
    member = member_make(mailing_list)
    smtp_capture.reply_to_recipient(member.address, "452 4.2.2 mailbox full")
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    dramatiq_broker.join("delivery", timeout=20_000)
    delivery = Delivery.objects.get(broadcast=broadcast)
    assert delivery.status == Delivery.Status.FAILED
    assert "retry deadline passed" in delivery.last_response
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENT


class DroppingHandler(CaptureHandler):
    """Drops the TCP connection at DATA for chosen recipients, once each, without storing the mail."""

    def __init__(self, drop: set[str]) -> None:
        super().__init__()
        self.drop = drop

    async def handle_DATA(self, server, session, envelope):
        if any(address in self.drop for address in envelope.rcpt_tos):
            self.drop -= set(envelope.rcpt_tos)
            server.transport.close()
            return "421 4.4.2 gone"
        return await super().handle_DATA(server, session, envelope)


def test_connection_dropped_mid_batch_resumes_and_every_member_is_served_once(
    committed_tenant, dramatiq_worker, dramatiq_broker, settings
):
    mailing_list = mailing_list_make()
    members = [member_make(mailing_list, address=a) for a in addresses("drop", 6)]
    handler = DroppingHandler(drop={members[2].address, members[4].address})
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.OUTBOUND_SMTP_URL = f"smtp://127.0.0.1:{port}"
    try:
        broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
        captured = SmtpCapture(handler=handler, port=port).wait_for(6)
        dramatiq_broker.join("delivery", timeout=20_000)
    finally:
        controller.stop()
    assert handler.drop == set()  # both drops happened
    assert sorted(mail.rcpt_tos[0] for mail in captured) == sorted(m.address for m in members)
    assert set(Delivery.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {"sent"}


def test_unreachable_relay_defers_the_batch(committed_tenant, dramatiq_worker, dramatiq_broker, settings):
    settings.OUTBOUND_SMTP_URL = f"smtp://127.0.0.1:{free_port()}?timeout=2"  # nobody listens
    mailing_list = mailing_list_make()
    for address in addresses("down", 3):
        member_make(mailing_list, address=address)
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    dramatiq_broker.join("delivery", timeout=20_000)
    statuses = list(Delivery.objects.filter(broadcast=broadcast).values_list("status", "next_attempt_at"))
    assert {status for status, _ in statuses} == {Delivery.Status.DEFERRED}
    assert all(when > timezone.now() for _, when in statuses)


def test_batch_whose_job_was_lost_is_enqueued_again_by_the_scheduler_job(
    committed_tenant, smtp_capture, dramatiq_broker, settings
):
    mailing_list = mailing_list_make()
    member = member_make(mailing_list)
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    dramatiq_broker.flush_all()  # the enqueued batch is lost (e.g. Redis lost it)
    assert deliveries_retry_enqueue_due_in_schema(schema_name=committed_tenant.schema_name) == 0  # not stale yet
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Broadcast.objects.filter(id=broadcast.id).update(started_at=an_hour_ago)
    Delivery.objects.filter(broadcast=broadcast).update(updated_at=an_hour_ago)
    assert deliveries_retry_enqueue_due_in_schema(schema_name=committed_tenant.schema_name) == 1
    worker = dramatiq.Worker(dramatiq_broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        [mail] = smtp_capture.wait_for(1)
        dramatiq_broker.join("delivery", timeout=20_000)
    finally:
        worker.stop()
    assert mail.rcpt_tos == [member.address]
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENT


def test_long_fanout_still_making_progress_is_not_taken_for_stalled(committed_tenant, dramatiq_broker):
    mailing_list = mailing_list_make()
    for address in addresses("long", 3):
        member_make(mailing_list, address=address)
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    dramatiq_broker.flush_all()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Broadcast.objects.filter(id=broadcast.id).update(started_at=an_hour_ago)
    first, *rest = Delivery.objects.filter(broadcast=broadcast).order_by("id")
    Delivery.objects.filter(id__in=[d.id for d in rest]).update(updated_at=an_hour_ago)  # waiting their turn
    Delivery.objects.filter(id=first.id).update(status=Delivery.Status.SENT)  # sent just now
    assert deliveries_retry_enqueue_due_in_schema(schema_name=committed_tenant.schema_name) == 0


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining-relay", "relay-without-pipelining"])
def test_unusable_address_in_a_batch_fails_alone_and_the_others_are_sent(
    committed_tenant, smtp_capture, dramatiq_worker, dramatiq_broker, pipelining
):
    smtp_capture.handler.pipelining = pipelining
    mailing_list = mailing_list_make()
    members = [member_make(mailing_list, address=a) for a in addresses("unusable", 5)]
    # Rows that skipped validation (an import, raw SQL): first, in the middle and last of the batch.
    for member in (members[0], members[2], members[4]):
        Member.objects.filter(id=member.id).update(address=member.address.replace("@", " x@"))
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    captured = smtp_capture.wait_for(2)
    dramatiq_broker.join("delivery", timeout=20_000)
    assert sorted(mail.rcpt_tos[0] for mail in captured) == sorted([members[1].address, members[3].address])
    by_member = {d.member_id: d for d in Delivery.objects.filter(broadcast=broadcast)}
    for member in (members[0], members[2], members[4]):
        assert by_member[member.id].status == Delivery.Status.FAILED
        assert by_member[member.id].last_response.startswith("553 5.1.3")
    assert {by_member[members[1].id].status, by_member[members[3].id].status} == {Delivery.Status.SENT}
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENT


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining-relay", "relay-without-pipelining"])
def test_content_refused_at_the_final_dot_is_deferred_or_failed_and_the_next_copies_go_on(
    committed_tenant, smtp_capture, dramatiq_worker, dramatiq_broker, pipelining
):
    smtp_capture.handler.pipelining = pipelining
    mailing_list = mailing_list_make()
    first, busy, refused, last = (member_make(mailing_list, address=a) for a in addresses("dot", 4))
    smtp_capture.handler.data_replies[busy.address] = "452 4.3.1 insufficient system storage"
    smtp_capture.handler.data_replies[refused.address] = "554 5.7.1 content refused"
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    captured = smtp_capture.wait_for(2)
    dramatiq_broker.join("delivery", timeout=20_000)
    assert sorted(mail.rcpt_tos[0] for mail in captured) == sorted([first.address, last.address])
    by_member = {d.member_id: d for d in Delivery.objects.filter(broadcast=broadcast)}
    assert by_member[busy.id].status == Delivery.Status.DEFERRED
    assert by_member[busy.id].last_response.startswith("452 4.3.1")
    assert by_member[refused.id].status == Delivery.Status.FAILED
    assert by_member[refused.id].last_response.startswith("554 5.7.1")
    assert {by_member[first.id].status, by_member[last.id].status} == {Delivery.Status.SENT}
