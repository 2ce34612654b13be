"""A distributed post reaches every active member once, each copy addressed to them alone."""

from __future__ import annotations

import email
import re
from email import policy

import dkim

from mailing.models import Broadcast, Delivery, Member
from tests.factories import mailing_list_make, member_make, unique
from tests.factories.outbound import eml, mail_broadcast_make


def dkim_dns(organization):
    domain = organization.get_primary_domain()

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        if name.decode().rstrip(".") == f"{domain.dkim_selector}._domainkey.{domain.domain}":
            return domain.dkim_dns_record().encode()
        return b""

    return lookup


def test_post_reaches_each_active_member_once_addressed_to_them_alone(
    committed_tenant, smtp_capture, dramatiq_worker, dramatiq_broker
):
    mailing_list = mailing_list_make(name="All", subject_tag="All")
    members = [member_make(mailing_list, name=f"Member {i}") for i in range(3)]
    carrier = member_make(mailing_list, address=f"{unique('taro')}..yamada@docomo.ne.jp", name="山田 太郎")
    suspended = member_make(mailing_list, status=Member.Status.SUSPENDED)

    original = eml("post_multipart_japanese.eml")
    broadcast = mail_broadcast_make(mailing_list, raw=original)
    captured = smtp_capture.wait_for(4)
    dramatiq_broker.join("delivery", timeout=20_000)

    assert len(captured) == 4
    assert all(len(mail.rcpt_tos) == 1 for mail in captured)
    received = sorted(mail.rcpt_tos[0] for mail in captured)
    # On the wire the carrier address goes as "taro..yamada"@docomo.ne.jp (quoted local part, RFC
    # 5321 §4.1.2); the relay reads it as the mailbox the member gave us.
    assert received == sorted([member.address for member in [*members, carrier]])
    assert suspended.address not in received
    deliveries = {d.token: d for d in Delivery.objects.filter(broadcast=broadcast)}
    assert len(deliveries) == 4
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", token) for token in deliveries)  # 18 bytes, 138 random bits
    local = mailing_list.local_part
    for mail in captured:
        token = mail.mail_from.split("+", 1)[1].split("@", 1)[0]
        assert mail.mail_from == f"{local}-bounces+{token}@test.localhost"
        delivery = deliveries[token]
        message = email.message_from_bytes(mail.data, policy=policy.default)
        assert len(message.get_all("To") or []) == 1
        assert delivery.address.split("@")[0] in str(message["To"])
        assert "Cc" not in message
        assert message["Subject"] == "[All] 来週の予定について"
        assert message["List-Id"] == f"All <{local}.test.localhost>"
        assert message["List-Post"] == f"<mailto:{local}@test.localhost>"
        assert message["List-Unsubscribe"] == (
            f"<https://test.localhost/m/unsubscribe/{token}/>, <mailto:{local}-leave@test.localhost>"
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Precedence"] == "list"
        assert message["X-Loop"] == f"{local}@test.localhost"
        assert message["Message-ID"] == "<post-1@sender.example>"
        assert len(message.get_all("DKIM-Signature")) == 1
        assert "d=test.localhost" in message["DKIM-Signature"]
        assert dkim.verify(mail.data, dnsfunc=dkim_dns(committed_tenant))
        # The MIME tree is the original's: text, HTML and the attachment byte for byte.
        assert mail.data.split(b"\r\n\r\n", 1)[1] == original.split(b"\r\n\r\n", 1)[1]
        assert "行末の空白   " in message.get_body(("plain",)).get_content()
        assert "来週の予定です" in message.get_body(("html",)).get_content()
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == "予定表.bin"
        assert attachment.get_content() == bytes(range(256)) * 4

    assert "山田 太郎" in str(
        email.message_from_bytes(
            next(m.data for m in captured if m.rcpt_tos[0] == carrier.address), policy=policy.default
        )["To"]
    )
    broadcast.refresh_from_db()
    assert broadcast.recipient_count == 4
    assert broadcast.state == Broadcast.State.SENT
    assert broadcast.finished_at is not None
    statuses = set(Delivery.objects.filter(broadcast=broadcast).values_list("status", flat=True))
    assert statuses == {Delivery.Status.SENT}


def test_post_to_list_without_active_members_is_sent_at_once(committed_tenant):
    mailing_list = mailing_list_make()
    member_make(mailing_list, status=Member.Status.SUSPENDED)
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_multipart_japanese.eml"))
    assert broadcast.recipient_count == 0
    assert broadcast.state == Broadcast.State.SENT
