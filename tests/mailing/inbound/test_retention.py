"""Stored inbound messages are kept INBOUND_RETENTION_DAYS, then the scheduler removes their payload."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from mailing.models import Broadcast, InboundMessage
from mailing.services.inbound.retention import inbound_payloads_expire
from tests.factories import mailing_list_make, member_make
from tests.factories.outbound import mail_broadcast_make
from tests.inbound_support import inbound_make, mail_make

POST = mail_make(from_address="taro@sender.example", to="x@test.localhost", subject="遠足", body="持ち物: お弁当\n")


def _aged(message: InboundMessage, days: float) -> InboundMessage:
    InboundMessage.objects.filter(id=message.id).update(received_at=timezone.now() - timedelta(days=days))
    return message


def test_payloads_older_than_the_retention_period_are_removed_and_the_rest_kept(tenant_db, settings):
    settings.INBOUND_RETENTION_DAYS = 30
    mailing_list = mailing_list_make()
    member_make(mailing_list)
    distributed = mail_broadcast_make(mailing_list, raw=POST)  # SENDING until its batch runs
    Broadcast.objects.filter(id=distributed.id).update(state=Broadcast.State.SENT)
    still_sending = mail_broadcast_make(mailing_list, raw=POST)
    old = {
        "distributed": _aged(distributed.inbound_message, 31),
        "still_sending": _aged(still_sending.inbound_message, 31),
        "rejected": _aged(inbound_make(mailing_list, POST), 31),
        "received": _aged(inbound_make(mailing_list, POST), 31),
        "held": _aged(inbound_make(mailing_list, POST), 45),
        "recent": _aged(inbound_make(mailing_list, POST), 29),
    }
    InboundMessage.objects.filter(id=old["rejected"].id).update(state=InboundMessage.State.REJECTED)
    InboundMessage.objects.filter(id=old["held"].id).update(state=InboundMessage.State.HELD)
    InboundMessage.objects.filter(id=old["recent"].id).update(state=InboundMessage.State.DONE)

    removed = inbound_payloads_expire()
    assert removed[tenant_db.schema_name] == 3

    messages = {name: InboundMessage.objects.get(id=message.id) for name, message in old.items()}
    for name in ("distributed", "rejected", "held"):
        assert bytes(messages[name].raw) == b"", name
        assert messages[name].payload_removed_at is not None
        assert messages[name].size == len(POST)  # the row and what it was stay
    for name in ("still_sending", "received", "recent"):
        assert bytes(messages[name].raw) == POST, name
    assert messages["held"].state == InboundMessage.State.DISCARDED
    distributed.refresh_from_db()
    assert "持ち物: お弁当" in distributed.body_text  # the history keeps the post's text
    assert inbound_payloads_expire().get(tenant_db.schema_name) is None  # nothing twice


def test_the_scheduler_runs_it():
    paths = [path for path, _interval in settings.SCHEDULER_JOBS]
    assert "mailing.services.inbound.retention.inbound_payloads_expire" in paths
    assert import_string("mailing.services.inbound.retention.inbound_payloads_expire") is inbound_payloads_expire
