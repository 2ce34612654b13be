"""Outcome marks live in Redis until their batch ends; a batch run after a crash writes the dead
run's marks to PostgreSQL first and does not send those copies again."""

from __future__ import annotations

import redis

from mailing.models import Broadcast, Delivery
from mailing.services import delivery_marks
from mailing.services.delivery_batches import delivery_batch_send
from mailing.services.delivery_marks import Recorder, marks_client, marks_key, recording_cursor
from tests.factories import mailing_list_make, member_make, unique
from tests.factories.outbound import eml, mail_broadcast_make
from tests.mail_fixtures import free_port


def test_batch_rerun_writes_a_dead_runs_marks_and_skips_what_it_sent(committed_tenant, smtp_capture, dramatiq_broker):
    mailing_list = mailing_list_make()
    for _ in range(3):
        member_make(mailing_list, address=f"{unique('mark')}@example.org")
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    first, *rest = Delivery.objects.filter(broadcast=broadcast).order_by("id")

    # A run that sent the first copy, marked it in Redis, and was killed before the batch ended.
    with recording_cursor() as cursor:
        Recorder(broadcast, 0, cursor).sent(first.id, first.attempts, "250 2.0.0 queued as DEAD")
    assert marks_client().hexists(marks_key(broadcast.id, 0), str(first.id))
    first.refresh_from_db()
    assert first.status == Delivery.Status.QUEUED  # only Redis knows so far

    delivery_batch_send(broadcast_id=broadcast.id, batch_index=0)

    received = sorted(mail.rcpt_tos[0] for mail in smtp_capture.wait_for(2))
    assert received == sorted(d.address for d in rest)
    assert first.address not in [mail.rcpt_tos[0] for mail in smtp_capture.messages]
    statuses = {d.id: (d.status, d.attempts) for d in Delivery.objects.filter(broadcast=broadcast)}
    assert statuses == {d.id: (Delivery.Status.SENT, 1) for d in [first, *rest]}
    assert Delivery.objects.get(id=first.id).last_response == "250 2.0.0 queued as DEAD"
    assert not marks_client().exists(marks_key(broadcast.id, 0))  # written, then forgotten
    assert Broadcast.objects.get(id=broadcast.id).state == Broadcast.State.SENT


def test_a_mark_never_turns_a_sent_delivery_back(committed_tenant, smtp_capture, dramatiq_broker):
    mailing_list = mailing_list_make()
    member_make(mailing_list, address=f"{unique('mark')}@example.org")
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    delivery = Delivery.objects.get(broadcast=broadcast)
    Delivery.objects.filter(id=delivery.id).update(status=Delivery.Status.SENT, attempts=1)

    with recording_cursor() as cursor:
        recorder = Recorder(broadcast, 0, cursor)
        recorder.refused(delivery.id, 0, 451, "451 4.3.0 stale mark")
        assert recorder.flush() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 1)


def test_redis_unreachable_outcomes_go_to_postgresql_directly(committed_tenant, dramatiq_broker, monkeypatch):
    mailing_list = mailing_list_make()
    for _ in range(2):
        member_make(mailing_list, address=f"{unique('mark')}@example.org")
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    delivery, second = Delivery.objects.filter(broadcast=broadcast).order_by("id")
    # A real client of a Redis that is not there (nothing listens on that port).
    monkeypatch.setattr(delivery_marks, "_client", redis.Redis(port=free_port(), socket_connect_timeout=1))

    with recording_cursor() as cursor:
        recorder = Recorder(broadcast, 0, cursor)
        recorder.sent(delivery.id, 0, "250 2.0.0 queued as DIRECT")
        recorder.failed(second.id, 0, "550 5.1.1 no such user")  # no second wait for Redis
        assert recorder.flush() == 0

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response) == (
        Delivery.Status.SENT,
        1,
        "250 2.0.0 queued as DIRECT",
    )
    assert delivery.sent_at is not None
    second.refresh_from_db()
    assert (second.status, second.attempts, second.sent_at) == (Delivery.Status.FAILED, 1, None)
