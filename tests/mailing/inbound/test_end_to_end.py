"""Through real SMTP: the MX on a free port -> a real dramatiq worker -> notices at the capturing relay."""

from __future__ import annotations

import email
import email.policy
from io import StringIO

from django.core.management import call_command

from mailing.models import InboundMessage, Member
from mailing.services.inbound import authorization
from tests.factories import mailing_list_make, sender_make, unique
from tests.inbound_support import list_admin_with_email, mail_make, worker_drain


def _list_address(mailing_list, tenant, suffix: str = "") -> str:
    return f"{mailing_list.local_part}{suffix}@{tenant.get_primary_domain().domain}"


def test_unauthenticated_registered_post_is_held_and_the_moderator_is_mailed(
    mx, committed_tenant, smtp_capture, dramatiq_broker, dramatiq_worker
):
    mailing_list = mailing_list_make()
    sender_make(mailing_list, address="writer@unsigned.test")
    moderator = f"{unique('mod')}@test.example"
    list_admin_with_email(mailing_list, moderator)
    to = _list_address(mailing_list, committed_tenant)
    mx.send(mail_from="writer@unsigned.test", rcpt_tos=[to],
            data=mail_make(from_address="writer@unsigned.test", to=to, subject="月例報告"))  # fmt: skip
    worker_drain(dramatiq_broker, dramatiq_worker)

    assert InboundMessage.objects.get(envelope_to=to).state == InboundMessage.State.HELD
    [captured] = smtp_capture.wait_for(1)
    assert captured.rcpt_tos == [moderator]
    assert captured.mail_from == f"{mailing_list.local_part}-bounces@{committed_tenant.get_primary_domain().domain}"
    notice = email.message_from_bytes(captured.data, policy=email.policy.default)
    assert notice["Auto-Submitted"] == "auto-generated"
    assert notice["X-Loop"] == to.lower()
    assert "月例報告" in notice["Subject"]
    assert "/m/moderate/" in notice.get_content()


def test_unregistered_senders_post_is_not_distributed(
    mx, committed_tenant, smtp_capture, dramatiq_broker, dramatiq_worker
):
    mailing_list = mailing_list_make()
    to = _list_address(mailing_list, committed_tenant)
    mx.send(mail_from="spam@nowhere.test", rcpt_tos=[to], data=mail_make(from_address="spam@nowhere.test", to=to))
    worker_drain(dramatiq_broker, dramatiq_worker)
    assert InboundMessage.objects.get(envelope_to=to).state == InboundMessage.State.REJECTED
    assert smtp_capture.messages == []  # no copies and no backscatter to an unauthenticated address


def test_authenticated_join_by_mail_adds_the_member_and_the_welcome_arrives(
    mx, committed_tenant, smtp_capture, dramatiq_broker, dramatiq_worker, dns_settings
):
    dns_settings.txt("joins.test", "v=spf1 ip4:127.0.0.1 -all")
    mailing_list = mailing_list_make()
    joiner = f"{unique('joiner')}@joins.test"
    to = _list_address(mailing_list, committed_tenant, "-join")
    mx.send(mail_from=joiner, rcpt_tos=[to], data=mail_make(from_address=joiner, to=to, subject="", body=""))
    worker_drain(dramatiq_broker, dramatiq_worker)

    assert Member.objects.filter(mailing_list=mailing_list, address=joiner, source=Member.Source.JOIN).exists()
    [captured] = smtp_capture.wait_for(1)
    assert captured.rcpt_tos == [joiner]
    assert captured.mail_from == "<>"  # an answer to a mail: null return path (RFC 3834 3.3)
    welcome = email.message_from_bytes(captured.data, policy=email.policy.default)
    assert welcome["Auto-Submitted"] == "auto-replied"
    assert "/m/leave/" in welcome.get_content()


class ExplodingRule:
    """Stands for a bug that some message triggers every time (Mailman's shunt queue case)."""

    name = "exploding"

    def evaluate(self, context):
        if context.parsed.header("X-Poison"):
            raise RuntimeError("this message always crashes processing")
        return authorization.RuleResult(self.name, authorization.CONTINUE, "not poison")


def test_poison_message_is_quarantined_with_its_payload_and_listed_for_operators(
    mx, committed_tenant, dramatiq_broker, dramatiq_worker, monkeypatch, settings
):
    monkeypatch.setattr(authorization, "DEFAULT_CHAIN", (ExplodingRule(), *authorization.DEFAULT_CHAIN))
    mailing_list = mailing_list_make()
    to = _list_address(mailing_list, committed_tenant)
    data = mail_make(from_address="a@example.org", to=to, headers={"X-Poison": "yes"})
    mx.send(mail_from="a@example.org", rcpt_tos=[to], data=data)
    worker_drain(dramatiq_broker, dramatiq_worker)

    message = InboundMessage.objects.get(envelope_to=to)
    assert message.state == InboundMessage.State.QUARANTINED
    assert message.processing_attempts == settings.INBOUND_MAX_ATTEMPTS
    assert bytes(message.raw) == data
    assert "always crashes" in message.last_error
    output = StringIO()
    call_command("inbound_quarantine_list", schema=committed_tenant.schema_name, stdout=output)
    assert f"\t{message.id}\t" in output.getvalue()
    assert "always crashes" in output.getvalue()
