"""The mail sweepers visit only organizations whose mail work may be pending, not every schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from mailing.models import Broadcast, Delivery, InboundMessage
from mailing.services.delivery_sweeps import deliveries_retry_enqueue_due
from mailing.services.inbound.sweep import inbound_sweep
from tenants.models import Organization
from tenants.services import SWEEP_HORIZON, SWEEP_SLACK, organization_sweep_extend, organizations_to_sweep
from tests.factories import mailing_list_make, member_make
from tests.factories.outbound import eml, mail_broadcast_make


@pytest.fixture
def registered(committed_tenant, other_tenant):
    """Both test organizations out of the register; put back in afterwards."""
    schemas = [committed_tenant.schema_name, other_tenant.schema_name]
    Organization.objects.filter(schema_name__in=schemas).update(sweep_until=None)
    yield committed_tenant
    Organization.objects.filter(schema_name__in=schemas).update(sweep_until=timezone.now() + timedelta(days=2))


def sweep_until(organization) -> object:
    return Organization.objects.values_list("sweep_until", flat=True).get(id=organization.id)


def test_extend_writes_when_short_and_then_rarely(registered, other_tenant):
    now = timezone.now()
    assert registered.schema_name not in organizations_to_sweep(now=now)
    assert organization_sweep_extend(schema_name=registered.schema_name, now=now)
    assert sweep_until(registered) == now + SWEEP_HORIZON + SWEEP_SLACK
    # Later messages of the same day find the mark far enough ahead: no write.
    assert not organization_sweep_extend(schema_name=registered.schema_name, now=now + timedelta(hours=20))
    assert organization_sweep_extend(schema_name=registered.schema_name, now=now + SWEEP_SLACK + timedelta(seconds=1))
    listed = organizations_to_sweep(now=now)
    assert registered.schema_name in listed
    assert other_tenant.schema_name not in listed
    assert registered.schema_name not in organizations_to_sweep(now=now + timedelta(days=5))


def test_inbound_sweeper_skips_unregistered_organizations_and_keeps_those_with_work(registered, dramatiq_broker):
    message = InboundMessage.objects.create(
        kind=InboundMessage.Kind.POST,
        envelope_from="taro@sender.example",
        envelope_to="nobody@test.localhost",
        raw=b"Subject: x\r\n\r\nbody\r\n",
        size=20,
    )
    InboundMessage.objects.filter(id=message.id).update(received_at=timezone.now() - timedelta(hours=1))
    try:
        assert registered.schema_name not in inbound_sweep()  # not in the register: not looked at
        # In the register (a message stored through the MX puts it there): swept, and kept in it
        # while a message is still RECEIVED, past the original horizon.
        Organization.objects.filter(id=registered.id).update(sweep_until=timezone.now() + timedelta(minutes=1))
        swept = inbound_sweep()
        assert message.id in swept[registered.schema_name]
        assert sweep_until(registered) > timezone.now() + SWEEP_HORIZON
    finally:
        connection.set_tenant(registered)
        InboundMessage.objects.filter(id=message.id).delete()
        dramatiq_broker.flush_all()  # the job the sweeper enqueued


def test_a_broadcast_puts_its_organization_in_the_register_and_keeps_it_there_while_sending(
    registered, smtp_capture, dramatiq_worker, dramatiq_broker
):
    mailing_list = mailing_list_make()
    member = member_make(mailing_list)
    smtp_capture.reply_to_recipient(member.address, "451 4.3.0 try later")
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    assert sweep_until(registered) >= timezone.now() + SWEEP_HORIZON
    dramatiq_broker.join("delivery", timeout=20_000)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENDING  # its copy is deferred
    Organization.objects.filter(id=registered.id).update(sweep_until=timezone.now() + timedelta(minutes=1))
    deliveries_retry_enqueue_due()
    assert sweep_until(registered) > timezone.now() + SWEEP_HORIZON  # still pending: kept
    Delivery.objects.filter(broadcast=broadcast).update(status=Delivery.Status.FAILED)
    Broadcast.objects.filter(id=broadcast.id).update(state=Broadcast.State.SENT)
