"""Bounces at the VERP address: attributed to the delivery and its member; suspension after the threshold."""

from __future__ import annotations

import secrets
from pathlib import Path

from mailing.models import Broadcast, Delivery, InboundMessage, Member, Notice
from mailing.services.inbound.pipeline import inbound_process
from tests.factories import mailing_list_make, member_make
from tests.inbound_support import inbound_make, list_admin_with_email, notice_text

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"


def _delivery(mailing_list, member) -> Delivery:
    broadcast = Broadcast.objects.create(mailing_list=mailing_list, channel=Broadcast.Channel.MAIL, subject="news")
    return Delivery.objects.create(
        broadcast=broadcast, member=member, address=member.address, token=secrets.token_urlsafe(16)[:22],
        status=Delivery.Status.SENT,
    )  # fmt: skip


def _bounce(mailing_list, delivery: Delivery, fixture: str = "bounce_dsn.eml") -> InboundMessage:
    to = f"{mailing_list.local_part}-bounces+{delivery.token}@test.localhost"
    raw = (FIXTURES / fixture).read_bytes().replace(b"<RECIPIENT>", delivery.address.encode())
    raw = raw.replace(b"LIST-bounces+TOKEN@test.localhost", to.encode())
    message = inbound_make(mailing_list, raw, kind="bounce", envelope_from="", envelope_to=to)
    inbound_process(inbound_message_id=message.id)
    message.refresh_from_db()
    return message


def test_bounce_at_the_verp_address_is_attributed_to_its_delivery_and_member(tenant_db):
    mailing_list = mailing_list_make()
    member = member_make(mailing_list, address="gone@example.org")
    delivery = _delivery(mailing_list, member)
    message = _bounce(mailing_list, delivery)
    assert message.state == InboundMessage.State.DONE
    delivery.refresh_from_db()
    member.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED
    assert "gone@example.org" in delivery.last_response
    assert member.bounce_score == 1
    assert member.status == Member.Status.ACTIVE


def test_the_same_delivery_bouncing_twice_counts_once(tenant_db):
    mailing_list = mailing_list_make()
    member = member_make(mailing_list)
    delivery = _delivery(mailing_list, member)
    _bounce(mailing_list, delivery)
    _bounce(mailing_list, delivery)
    member.refresh_from_db()
    assert member.bounce_score == 1


def test_member_is_suspended_after_the_threshold_and_admins_are_told(tenant_db, settings):
    settings.MAIL_BOUNCE_THRESHOLD = 2
    mailing_list = mailing_list_make()
    list_admin_with_email(mailing_list, "listadmin@test.example")
    member = member_make(mailing_list, address="dead@example.org")
    _bounce(mailing_list, _delivery(mailing_list, member))
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    _bounce(mailing_list, _delivery(mailing_list, member))
    member.refresh_from_db()
    assert member.status == Member.Status.BOUNCING
    notice = Notice.objects.get(kind="bounce-suspended", recipient="listadmin@test.example")
    assert "dead@example.org" in notice_text(notice)


def test_an_auto_reply_to_the_return_path_is_not_a_bounce(tenant_db):
    mailing_list = mailing_list_make()
    member = member_make(mailing_list)
    delivery = _delivery(mailing_list, member)
    message = _bounce(mailing_list, delivery, "vacation_to_return_path.eml")
    assert message.state == InboundMessage.State.DISCARDED
    member.refresh_from_db()
    assert member.bounce_score == 0


def test_unknown_token_is_discarded(tenant_db):
    mailing_list = mailing_list_make()
    member = member_make(mailing_list)
    delivery = _delivery(mailing_list, member)
    delivery.token = "Unknown123456"
    message = _bounce(mailing_list, delivery)
    assert message.state == InboundMessage.State.DISCARDED
    assert "no delivery" in message.decision_reasons[-1]["reason"]
