"""Posts to a list address through the worker's stages: loops, authorization rules, disposition."""

from __future__ import annotations

import email
import email.policy
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

from mailing.models import InboundMessage, Notice
from mailing.services.inbound.pipeline import inbound_process
from tests.factories import mailing_list_make, sender_make
from tests.inbound_support import dkim_key_make, inbound_make, list_admin_with_email, mail_make

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"


def _process(message: InboundMessage) -> InboundMessage:
    inbound_process(inbound_message_id=message.id)
    message.refresh_from_db()
    return message


def _rules(message: InboundMessage) -> dict[str, str]:
    return {reason["rule"]: reason["result"] for reason in message.decision_reasons}


def test_post_from_unregistered_sender_is_rejected_silently_when_the_return_path_is_unauthenticated(tenant_db):
    mailing_list = mailing_list_make()
    raw = mail_make(from_address="spammer@unknown.test", to="x@test.localhost")
    message = _process(inbound_make(mailing_list, raw, envelope_from="spammer@unknown.test"))
    assert message.state == InboundMessage.State.REJECTED
    assert _rules(message)["registered-sender"] == "reject"
    assert _rules(message)["notice"] == "silent"
    assert not Notice.objects.filter(inbound_message=message).exists()


def test_post_from_unregistered_but_authenticated_sender_gets_a_polite_notice(tenant_db, dns_settings):
    dns_settings.txt("honest.test", "v=spf1 ip4:127.0.0.1 -all")
    mailing_list = mailing_list_make()
    raw = mail_make(from_address="someone@honest.test", to="x@test.localhost", subject="Question")
    message = _process(inbound_make(mailing_list, raw, envelope_from="someone@honest.test"))
    assert message.state == InboundMessage.State.REJECTED
    notice = Notice.objects.get(inbound_message=message)
    assert notice.recipient == "someone@honest.test"
    assert notice.envelope_from == ""  # RFC 3834: a response goes out with a null return path
    assert b"Auto-Submitted: auto-replied" in bytes(notice.raw)


def test_registered_sender_failing_strict_dmarc_is_rejected_never_held(tenant_db, dns_settings):
    dns_settings.txt("_dmarc.strict.test", "v=DMARC1; p=reject")
    mailing_list = mailing_list_make()
    sender_make(mailing_list, address="boss@strict.test")
    raw = mail_make(from_address="boss@strict.test", to="x@test.localhost")
    message = _process(inbound_make(mailing_list, raw, envelope_from="forger@elsewhere.test"))
    assert message.state == InboundMessage.State.REJECTED
    assert _rules(message)["dmarc"] == "reject"
    assert _rules(message)["notice"] == "silent"


def test_unsigned_registered_gmail_address_from_loopback_is_held_for_moderation(tenant_db, dns_settings):
    """RELIABILITY.md: a registered From counts only when authenticated; p=none does not change that."""
    dns_settings.txt("_dmarc.gmail.test", "v=DMARC1; p=none")
    mailing_list = mailing_list_make()
    sender_make(mailing_list, address="sender@gmail.test")
    list_admin_with_email(mailing_list, "admin@test.example")
    raw = mail_make(from_address="sender@gmail.test", to="x@test.localhost", subject="Weekly news")
    message = _process(inbound_make(mailing_list, raw, envelope_from="sender@gmail.test"))
    assert message.state == InboundMessage.State.HELD
    assert _rules(message)["authenticated"] == "hold"
    notice = Notice.objects.get(kind="moderation", recipient="admin@test.example")
    # The body may be base64 (a Japanese notice is UTF-8): read it as a mail reader would.
    body = message_from_bytes(bytes(notice.raw), policy=email_policy.default).get_body().get_content()
    assert "/m/moderate/" in body


def test_list_requiring_authentication_rejects_an_unauthenticated_registered_sender(tenant_db):
    mailing_list = mailing_list_make(posts_require_authentication=True)
    sender_make(mailing_list, address="member@plain.test")
    raw = mail_make(from_address="member@plain.test", to="x@test.localhost")
    message = _process(inbound_make(mailing_list, raw, envelope_from="member@plain.test"))
    assert message.state == InboundMessage.State.REJECTED
    assert _rules(message)["authenticated"] == "reject"


def test_auto_reply_is_discarded(tenant_db):
    mailing_list = mailing_list_make()
    sender_make(mailing_list, address="away@example.org")
    message = _process(inbound_make(mailing_list, (FIXTURES / "auto_reply.eml").read_bytes()))
    assert message.state == InboundMessage.State.DISCARDED
    assert "Auto-Submitted" in message.decision_reasons[0]["reason"]


def test_our_own_x_loop_is_discarded(tenant_db):
    mailing_list = mailing_list_make()
    raw = mail_make(from_address="a@example.org", to="x@t",
                    headers={"X-Loop": f"{mailing_list.local_part}@test.localhost"})  # fmt: skip
    message = _process(inbound_make(mailing_list, raw))
    assert message.state == InboundMessage.State.DISCARDED
    assert "X-Loop" in message.decision_reasons[0]["reason"]


def test_null_sender_to_a_posting_address_is_discarded(tenant_db):
    mailing_list = mailing_list_make()
    raw = mail_make(from_address="MAILER-DAEMON@example.org", to="x@t")
    message = _process(inbound_make(mailing_list, raw, envelope_from=""))
    assert message.state == InboundMessage.State.DISCARDED
    assert not Notice.objects.filter(inbound_message=message).exists()


def test_malformed_message_is_decided_not_crashed(tenant_db):
    mailing_list = mailing_list_make()
    message = _process(inbound_make(mailing_list, (FIXTURES / "malformed.eml").read_bytes()))
    assert message.state == InboundMessage.State.REJECTED
    assert _rules(message)["from-present"] == "reject"
    assert _rules(message)["parse"] == "defects"


def test_japanese_post_from_an_authenticated_stranger_is_rejected_with_its_subject_readable(tenant_db, dns_settings):
    dns_settings.txt("example.co.jp", "v=spf1 ip4:127.0.0.1 -all")
    mailing_list = mailing_list_make()
    message = _process(inbound_make(mailing_list, (FIXTURES / "shift_jis.eml").read_bytes(),
                                    envelope_from="suzuki@example.co.jp"))  # fmt: skip
    assert message.state == InboundMessage.State.REJECTED
    notice = Notice.objects.get(inbound_message=message)
    body = email.message_from_bytes(bytes(notice.raw), policy=email.policy.default).get_content()
    assert "資料送付の件" in body


def test_every_decision_records_the_authentication_details(tenant_db, dns_settings):
    key = dkim_key_make(dns_settings, "signed.test")
    mailing_list = mailing_list_make()
    raw = key.sign(mail_make(from_address="x@signed.test", to="x@t"))
    message = _process(inbound_make(mailing_list, raw, envelope_from="x@signed.test"))
    details = next(r for r in message.decision_reasons if r["rule"] == "authentication")["details"]
    assert details["dkim_pass_domains"] == ["signed.test"]
    assert details["from_authenticated"] is True
