"""A web broadcast goes through the mail posts' fan-out: one copy per address across its lists, each
with the recipient's own links, DKIM-signed, attachments intact."""

from __future__ import annotations

import email
import re
from email import policy
from email.header import decode_header, make_header

import dkim

from mailing.models import Broadcast, Delivery, Member
from mailing.services.web_broadcasts import AttachmentInput
from tests.factories import mailing_list_make, member_make, unique
from tests.factories.web_broadcasts import ATTENDANCE, BODY, LONG_SUBJECT, web_broadcast_sent_make
from tests.mailing.test_fanout import dkim_dns


def header_lines_longer_than(data: bytes, limit: int) -> list[bytes]:
    """Header lines over `limit`, but for the DKIM signature's (mailing.dkim keeps b= on one line on purpose)."""
    lines = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    return [line for line in lines if len(line) > limit and not line.startswith((b"DKIM-Signature:", b"\t"))]


def phrase_field(data: bytes, name: str) -> str:
    """A field with a display name, decoded as RFC 2047 §6.2 says (whitespace between adjacent
    encoded-words dropped): Python's policy.default parser keeps it inside phrases (it reads its own
    folded output back with extra spaces too), mail programs do not."""
    raw = email.message_from_bytes(data, policy=policy.compat32)[name]
    return str(make_header(decode_header(raw)))


PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
PDF_NAME = "保護者会のご案内 2026年度.pdf"


def test_web_broadcast_to_two_lists_sends_one_copy_per_address_with_personal_links(
    committed_tenant, smtp_capture, dramatiq_worker, dramatiq_broker
):
    grade = mailing_list_make(name="株式会社サンプル 営業本部 第二営業部", subject_tag="")
    club = mailing_list_make(name="サッカー部")
    carrier = f"{unique('taro')}..yamada@docomo.ne.jp"
    on_both = member_make(grade, address=carrier, name="山田 太郎（保護者）")
    member_make(club, address=carrier.upper().replace("DOCOMO.NE.JP", "docomo.ne.jp"), name="山田 太郎")
    mother = member_make(grade, address=f"{unique('hanako')}@example.jp", name="山田 花子")
    father_phone = member_make(grade, address=f"{unique('ichiro')}.@ezweb.ne.jp", name="山田 一郎")
    suspended_here = f"{unique('jiro')}@example.jp"
    member_make(grade, address=suspended_here, status=Member.Status.SUSPENDED)
    active_there = member_make(club, address=suspended_here, name="佐藤 次郎")
    member_make(club, status=Member.Status.SUSPENDED)

    broadcast = web_broadcast_sent_make(
        [grade, club],
        read_confirmation=True,
        questions=[ATTENDANCE],
        attachments=[AttachmentInput(filename=PDF_NAME, content_type="application/pdf", data=PDF)],
    )
    captured = smtp_capture.wait_for(4)
    dramatiq_broker.join("delivery", timeout=20_000)

    assert sorted(mail.rcpt_tos[0].lower() for mail in captured) == sorted(
        m.address.lower() for m in (on_both, mother, father_phone, active_there)
    )
    deliveries = {d.token: d for d in Delivery.objects.filter(broadcast=broadcast)}
    assert len(deliveries) == 4
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", token) for token in deliveries)
    choices = list(broadcast.survey.questions.get().choices.values_list("id", "label"))
    for mail in captured:
        token = mail.mail_from.split("+", 1)[1].split("@", 1)[0]
        delivery = deliveries[token]
        assert dkim.verify(mail.data, dnsfunc=dkim_dns(committed_tenant))
        # RFC 5322 §2.1.1's limit; a long Japanese name is one encoded-word on a line of its own
        # (mailing.rendering.headers: Python's address parser would read several back with spaces).
        assert header_lines_longer_than(mail.data, 998) == []
        message = email.message_from_bytes(mail.data, policy=policy.default)
        assert message["Subject"] == LONG_SUBJECT
        assert message["From"].addresses[0].display_name == grade.name
        assert phrase_field(mail.data, "From") == f"{grade.name} <{grade.local_part}@test.localhost>"
        assert phrase_field(mail.data, "List-Id") == f"{grade.name} <{grade.local_part}.test.localhost>"
        assert message["List-Unsubscribe"].strip() == f"<https://test.localhost/m/unsubscribe/{token}/>"
        assert len(message.get_all("To")) == 1
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # base64 of CRLF text
        assert text.startswith(BODY.replace("  \n", "  \n").rstrip().splitlines()[0])
        assert "出欠をお知らせください。" in text
        assert f"https://test.localhost/m/r/{token}/" in text
        for choice_id, label in choices:
            assert f"  {label}\n  https://test.localhost/m/s/{token}/{choice_id}/\n" in text
        other_tokens = set(deliveries) - {token}
        assert not any(other in mail.data.decode("ascii") for other in other_tokens)
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == PDF_NAME
        assert attachment.get_content() == PDF
        assert delivery.address.lower() in mail.rcpt_tos[0].lower()
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENT
    assert broadcast.recipient_count == 4


def test_web_broadcast_without_options_is_plain_text_and_verifies(
    committed_tenant, smtp_capture, dramatiq_worker, dramatiq_broker
):
    mailing_list = mailing_list_make(name="All")
    member_make(mailing_list, name="Suzuki Ichiro " * 14)  # an ASCII name longer than a line
    web_broadcast_sent_make([mailing_list], subject="Plain " + "x" * 300, body_text="line\n.starts with a dot\n")
    [mail] = smtp_capture.wait_for(1)
    assert dkim.verify(mail.data, dnsfunc=dkim_dns(committed_tenant))
    message = email.message_from_bytes(mail.data, policy=policy.default)
    assert message["Subject"] == "Plain " + "x" * 300
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "line\r\n.starts with a dot"
    assert "/m/r/" not in message.get_content()
    assert header_lines_longer_than(mail.data, 998) == []
    assert message["To"].addresses[0].display_name == " ".join(("Suzuki Ichiro " * 14).split())
