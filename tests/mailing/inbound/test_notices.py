"""Notices: RFC 3834 headers, and no header injection from anything a sender wrote."""

from __future__ import annotations

import email
import email.policy

import pytest

from mailing.models import InboundMessage, Notice
from mailing.rendering.headers import UnusableAddressError
from mailing.services.inbound.pipeline import inbound_process
from mailing.services.notices import notice_message_build
from tests.factories import mailing_list_make, sender_make
from tests.inbound_support import inbound_make, list_admin_with_email


def test_crlf_in_a_held_posts_encoded_subject_never_reaches_a_notice_header(tenant_db):
    mailing_list = mailing_list_make()
    sender_make(mailing_list, address="writer@plain.test")
    list_admin_with_email(mailing_list, "mod@test.example")
    # "Hi\r\nBcc: victim@example.org" as an RFC 2047 encoded word: decoding must not make a header of it.
    raw = (
        b"From: writer@plain.test\r\nTo: x@test.localhost\r\n"
        b"Subject: =?utf-8?b?SGkNCkJjYzogdmljdGltQGV4YW1wbGUub3Jn?=\r\n"
        b"Message-ID: <inject@plain.test>\r\n\r\nbody\r\n"
    )
    message = inbound_make(mailing_list, raw, envelope_from="writer@plain.test")
    inbound_process(inbound_message_id=message.id)
    message.refresh_from_db()
    assert message.state == InboundMessage.State.HELD
    notice = Notice.objects.get(kind="moderation")
    parsed = email.message_from_bytes(bytes(notice.raw), policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert "victim@example.org" in parsed["Subject"]
    assert b"\r\nBcc:" not in bytes(notice.raw)


def test_notice_headers_refuse_line_breaks_in_every_field():
    with pytest.raises(UnusableAddressError):  # a recipient with a line break is no address at all
        notice_message_build(
            from_address="list-bounces@test.localhost",
            from_name="List",
            to="someone@example.org\nCc: b@example.org",
            subject="Hello",
            body="text",
            auto_submitted="auto-generated",
        )
    message = notice_message_build(
        from_address="list-bounces@test.localhost",
        from_name="List\r\nBcc: a@example.org",
        to="someone@example.org",
        subject="Hello\r\n\r\nbody injection",
        body="text",
        auto_submitted="auto-generated",
        x_loop="list@test.localhost\r\nX-Evil: 1",
        in_reply_to="<id@example.org>\r\nX-Evil: 2",
    )
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    for name in ("Bcc", "Cc", "X-Evil"):
        assert parsed[name] is None
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content().strip() == "text"
