"""Jobs run in their own organization's schema and refuse the public one; services send them by name, after commit."""

from __future__ import annotations

import contextlib
import smtplib

import dramatiq
import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context
from dramatiq.errors import ActorNotFound

from mailing.models import MailingList
from tenants.jobs import TenantJobError, actors_import, job_send_on_commit, tenant_context
from tests.factories import mailing_list_make

seen: dict[str, list[str]] = {}


@dramatiq.actor(max_retries=0, time_limit=10_000, queue_name="test_probe")
def probe_list_names(schema_name: str) -> None:
    with tenant_context(schema_name):
        seen[schema_name] = sorted(MailingList.objects.values_list("local_part", flat=True))
        seen[schema_name + ":current"] = [connection.schema_name]


def test_interleaved_jobs_of_two_organizations_each_see_their_own_schema(
    committed_tenant, other_tenant, dramatiq_worker, dramatiq_broker
):
    mailing_list_make(local_part="only-in-a")
    with schema_context(other_tenant.schema_name):
        mailing_list_make(local_part="only-in-b")
    for _ in range(3):
        probe_list_names.send(committed_tenant.schema_name)
        probe_list_names.send(other_tenant.schema_name)
    dramatiq_broker.join("test_probe", timeout=20_000)
    assert "only-in-a" in seen[committed_tenant.schema_name]
    assert "only-in-b" not in seen[committed_tenant.schema_name]
    assert "only-in-b" in seen[other_tenant.schema_name]
    assert "only-in-a" not in seen[other_tenant.schema_name]
    assert seen[other_tenant.schema_name + ":current"] == [other_tenant.schema_name]


@pytest.mark.django_db
@pytest.mark.parametrize("schema_name", ["public", "tenant_template", "org_does_not_exist"])
def test_job_refuses_to_run_outside_an_organization(schema_name):
    with pytest.raises(TenantJobError), tenant_context(schema_name):
        pass


def test_smtp_capture_relay_answers_chosen_replies(smtp_capture):
    smtp_capture.reply_to_recipient("temp@example.org", "451 4.3.0 try later")
    with smtplib.SMTP("127.0.0.1", smtp_capture.port) as client:
        refused = client.sendmail("a@example.org", ["ok@example.org", "temp@example.org"], b"Subject: x\r\n\r\nhi\r\n")
    assert refused == {"temp@example.org": (451, b"4.3.0 try later")}
    [mail] = smtp_capture.wait_for(1)
    assert mail.rcpt_tos == ["ok@example.org"]


@dramatiq.actor(max_retries=0, time_limit=10_000, queue_name="test_probe_sent")
def probe_sent(schema_name: str, number: int) -> None:
    """Never run: the tests look at its queue."""


def test_job_is_sent_after_the_commit_and_never_for_a_rollback(committed_tenant, dramatiq_broker):
    queue = probe_sent.queue_name
    dramatiq_broker.flush(queue)
    with transaction.atomic():
        job_send_on_commit("probe_sent", committed_tenant.schema_name, 1)
        assert dramatiq_broker.do_qsize(queue) == 0  # a worker must not look for rows not committed yet
    assert dramatiq_broker.do_qsize(queue) == 1
    with contextlib.suppress(ZeroDivisionError), transaction.atomic():
        job_send_on_commit("probe_sent", committed_tenant.schema_name, 2)
        _ = 1 / 0
    assert dramatiq_broker.do_qsize(queue) == 1
    dramatiq_broker.flush(queue)


def test_a_failed_send_after_commit_is_logged_when_a_sweeper_covers_it_and_raised_otherwise(
    committed_tenant, dramatiq_broker, caplog
):
    job_send_on_commit("no_such_actor", committed_tenant.schema_name, 1, robust=True)
    assert "enqueue after commit failed" in caplog.text
    with pytest.raises(ActorNotFound):
        job_send_on_commit("no_such_actor", committed_tenant.schema_name, 1)


def test_every_apps_actors_are_found_by_name():
    assert {"mailing.tasks.delivery", "mailing.tasks.inbound", "mailing.tasks.member_import"} <= set(actors_import())
    for name in ("process_inbound", "send_notice", "delivery_batch_send", "broadcast_plan_rest", "member_import_run"):
        assert dramatiq.get_broker().get_actor(name).actor_name == name
