"""Jobs run in their own organization's schema and refuse the public one."""

from __future__ import annotations

import dramatiq
import pytest
from django.db import connection

from mailing.models import MailingList
from saas_platform.jobs import TenantJobError, tenant_context
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
    from django_tenants.utils import schema_context

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
    import smtplib

    smtp_capture.reply_to_recipient("temp@example.org", "451 4.3.0 try later")
    with smtplib.SMTP("127.0.0.1", smtp_capture.port) as client:
        refused = client.sendmail("a@example.org", ["ok@example.org", "temp@example.org"], b"Subject: x\r\n\r\nhi\r\n")
    assert refused == {"temp@example.org": (451, b"4.3.0 try later")}
    [mail] = smtp_capture.wait_for(1)
    assert mail.rcpt_tos == ["ok@example.org"]
