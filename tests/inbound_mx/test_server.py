"""The MX through real SMTP: routing at RCPT, size limits, store-then-250, STARTTLS, smuggling."""

from __future__ import annotations

import asyncio
import datetime
import smtplib
import socket
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from inbound_mx.server import REPLY_TEMPORARY, InboundHandler, tls_context_make
from mailing.models import InboundMessage
from tests.factories import mailing_list_make
from tests.inbound_support import mail_make


def _address(mailing_list, tenant, suffix: str = "") -> str:
    return f"{mailing_list.local_part}{suffix}@{tenant.get_primary_domain().domain}"


def test_unknown_address_is_refused_at_rcpt_with_550(mx, committed_tenant):
    with smtplib.SMTP("127.0.0.1", mx.port, timeout=10) as client:
        client.ehlo("sender.example")
        client.mail("someone@example.org")
        code, reply = client.rcpt(f"no-such-list@{committed_tenant.get_primary_domain().domain}")
        assert (code, reply[:5]) == (550, b"5.1.1")
        code, _ = client.rcpt("anyone@unknown-domain.example")
        assert code == 550


def test_every_kind_of_list_address_is_stored_before_250(mx, committed_tenant):
    mailing_list = mailing_list_make()
    domain = committed_tenant.get_primary_domain().domain
    recipients = [
        _address(mailing_list, committed_tenant),
        _address(mailing_list, committed_tenant, "-join"),
        _address(mailing_list, committed_tenant, "-leave"),
        _address(mailing_list, committed_tenant, "-bounces+AbCdEf123456"),
        _address(mailing_list, committed_tenant, "-join+0abcdefghij234567xyz"),  # a reply confirming a join
        f"postmaster@{domain}",
    ]
    data = mail_make(from_address="writer@example.org", to=recipients[0])
    refused = mx.send(mail_from="writer@example.org", rcpt_tos=recipients, data=data)
    assert refused == {}
    stored = InboundMessage.objects.filter(envelope_to__in=recipients)
    assert sorted(stored.values_list("kind", flat=True)) == ["bounce", "join", "join", "leave", "post", "postmaster"]
    for message in stored:
        assert bytes(message.raw) == data
        assert message.envelope_from == "writer@example.org"
        assert message.peer_address == "127.0.0.1"
        assert message.state in {InboundMessage.State.RECEIVED, InboundMessage.State.DONE} or message.state
    assert stored.get(kind="postmaster").mailing_list is None
    assert stored.get(kind="post").mailing_list_id == mailing_list.id


def test_null_sender_is_stored_as_empty_envelope_from(mx, committed_tenant):
    mailing_list = mailing_list_make()
    to = _address(mailing_list, committed_tenant, "-bounces+Token12345")
    mx.send(mail_from="<>", rcpt_tos=[to], data=mail_make(from_address="MAILER-DAEMON@example.org", to=to))
    assert InboundMessage.objects.get(envelope_to=to).envelope_from == ""


def test_oversize_message_is_refused_with_552(mx_start, committed_tenant, settings):
    settings.MAIL_MAX_MESSAGE_BYTES = 2000
    server = mx_start()
    mailing_list = mailing_list_make()
    to = _address(mailing_list, committed_tenant)
    data = mail_make(from_address="big@example.org", to=to, body="x" * 70 + "\n" * 1 + ("y" * 70 + "\n") * 60)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        client.ehlo("sender.example")
        assert client.mail("big@example.org")[0] == 250  # no SIZE= declared: the limit applies during DATA
        assert client.rcpt(to)[0] == 250
        code, reply = client.data(data)
    assert code == 552
    assert b"5.3.4" in reply
    assert not InboundMessage.objects.filter(envelope_to=to).exists()


def test_size_declared_at_mail_from_above_the_limit_is_refused_with_552(mx_start, committed_tenant, settings):
    settings.MAIL_MAX_MESSAGE_BYTES = 2000
    server = mx_start()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        client.ehlo("sender.example")
        assert client.has_extn("size")
        code, reply = client.mail("big@example.org", options=["SIZE=5000"])
    assert code == 552
    assert b"5.3.4" in reply


def test_handler_exception_reply_is_451_never_500():
    reply = asyncio.run(InboundHandler().handle_exception(RuntimeError("database exploded")))
    assert reply == REPLY_TEMPORARY
    assert reply.startswith("451 4.3.0")


def _self_signed(tmp_path) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mx.localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "mx.crt", tmp_path / "mx.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def test_starttls_is_offered_and_works_when_a_certificate_is_configured(mx_start, committed_tenant, settings, tmp_path):
    settings.MX_TLS_CERT, settings.MX_TLS_KEY = _self_signed(tmp_path)
    server = mx_start()
    mailing_list = mailing_list_make()
    to = _address(mailing_list, committed_tenant)
    client_context = ssl.create_default_context(cafile=settings.MX_TLS_CERT)
    client_context.check_hostname = False
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        client.ehlo("sender.example")
        assert client.has_extn("starttls")
        client.starttls(context=client_context)
        client.ehlo("sender.example")
        assert client.sendmail("tls@example.org", [to], mail_make(from_address="tls@example.org", to=to)) == {}
    assert InboundMessage.objects.filter(envelope_to=to).count() == 1


def test_starttls_is_not_offered_without_a_certificate(mx):
    with smtplib.SMTP("127.0.0.1", mx.port, timeout=10) as client:
        client.ehlo("sender.example")
        assert not client.has_extn("starttls")


def test_tls_context_loads_the_configured_pair(tmp_path):
    cert, key = _self_signed(tmp_path)
    assert isinstance(tls_context_make(cert, key), ssl.SSLContext)


def _smtp_lines(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n") or data.split(b"\r\n")[-2][3:4] == b"-":
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_smtp_smuggling_with_bare_lf_dot_is_not_a_second_message(mx, committed_tenant):
    """CVE-2023-51764 class: `\\n.\\n` must not end DATA, so a smuggled MAIL FROM stays message text."""
    mailing_list = mailing_list_make()
    to = _address(mailing_list, committed_tenant)
    smuggled_to = _address(mailing_list, committed_tenant, "-join")
    with socket.create_connection(("127.0.0.1", mx.port), timeout=10) as sock:
        assert _smtp_lines(sock).startswith(b"220")
        for command in (b"EHLO probe.example\r\n", b"MAIL FROM:<a@example.org>\r\n", f"RCPT TO:<{to}>\r\n".encode()):
            sock.sendall(command)
            assert _smtp_lines(sock)[:1] == b"2"
        sock.sendall(b"DATA\r\n")
        assert _smtp_lines(sock).startswith(b"354")
        payload = (
            b"From: a@example.org\r\nSubject: first\r\n\r\nhello\n.\n"
            b"MAIL FROM:<forged@example.org>\nRCPT TO:<" + smuggled_to.encode() + b">\nDATA\n"
            b"From: forged@example.org\nSubject: smuggled\n\nevil\n.\n"
            b"\r\n.\r\n"
        )
        sock.sendall(payload)
        reply = _smtp_lines(sock)
        sock.sendall(b"QUIT\r\n")
    assert reply.startswith(b"250")
    assert not InboundMessage.objects.filter(envelope_to=smuggled_to).exists()
    stored = InboundMessage.objects.get(envelope_to=to)
    assert b"Subject: smuggled" in bytes(stored.raw)  # kept as text of the one real message
