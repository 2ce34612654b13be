"""Fixtures for the inbound path: a real authoritative DNS server, DKIM keys, the MX on a free port, mail builders."""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import smtplib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import dkim
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from accounts.services import user_create
from inbound_mx.server import InboundHandler, mx_controller_make
from mailing.models import InboundMessage
from tests.factories import list_admin_make, unique
from tests.mail_fixtures import free_port


@dataclass
class DnsServer:
    """A small authoritative DNS server over UDP on loopback, answering TXT records from `records`."""

    port: int
    records: dict[str, list[str]] = field(default_factory=dict)

    def txt(self, name: str, *values: str) -> None:
        self.records[name.lower().rstrip(".")] = list(values)

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for question in query.question:
            name = question.name.to_text().rstrip(".").lower()
            if name not in self.records:
                response.set_rcode(dns.rcode.NXDOMAIN)
                continue
            if question.rdtype == dns.rdatatype.TXT:
                texts = []
                for value in self.records[name]:
                    raw = value.encode()
                    chunks = " ".join(f'"{raw[i : i + 255].decode()}"' for i in range(0, len(raw), 255))
                    texts.append(chunks)
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "TXT", texts))
        return response.to_wire()


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    server = DnsServer(port=udp.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        udp.settimeout(0.2)
        while not stop.is_set():
            try:
                wire, peer = udp.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                udp.sendto(server.answer(wire), peer)
            except Exception:  # noqa: S112  (a malformed query gets no answer, as from a real server)
                continue

    thread = threading.Thread(target=serve, daemon=True, name="test-dns")
    thread.start()
    yield server
    stop.set()
    thread.join()
    udp.close()


@pytest.fixture(autouse=True)
def dns_settings(dns_server: DnsServer, settings) -> DnsServer:
    """Every inbound test resolves against the loopback DNS server (no real DNS is reachable here)."""
    settings.DNS_NAMESERVERS = [f"127.0.0.1:{dns_server.port}"]
    settings.DNS_TIMEOUT_SECONDS = 2
    return dns_server


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    private_pem: bytes
    dns_record: str

    def sign(self, message: bytes) -> bytes:
        header = dkim.sign(
            message,
            self.selector.encode(),
            self.domain.encode(),
            self.private_pem,
            include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
        )
        return header + message


_KEY_CACHE: dict[str, rsa.RSAPrivateKey] = {}


def dkim_key_make(dns: DnsServer, domain: str, selector: str = "s1") -> DkimKey:
    """An RSA key for `domain`, its public half published at selector._domainkey.domain."""
    if "rsa" not in _KEY_CACHE:  # one key per test session: generating is the slow part
        _KEY_CACHE["rsa"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = _KEY_CACHE["rsa"]
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    dns.txt(f"{selector}._domainkey.{domain}", record)
    return DkimKey(selector=selector, domain=domain, private_pem=private_pem, dns_record=record)


def mail_make(
    *,
    from_address: str,
    to: str,
    subject: str = "Hello list",
    body: str = "Hello everyone.\n",
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain=from_address.rpartition("@")[2] or "example.org")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


@dataclass
class RunningMx:
    port: int
    controller: object

    def send(self, *, mail_from: str, rcpt_tos: list[str], data: bytes) -> dict:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            return client.sendmail(mail_from, rcpt_tos, data)


@pytest.fixture
def mx_start() -> Iterator:
    """Start the real MX (as run_mx does) on a free port; stopped at the end of the test."""
    started = []

    def start(*, handler: InboundHandler | None = None, tls_context=None) -> RunningMx:
        port = free_port()
        controller = mx_controller_make(host="127.0.0.1", port=port, handler=handler, tls_context=tls_context)
        controller.start()
        started.append(controller)
        return RunningMx(port=port, controller=controller)

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def mx(mx_start, committed_tenant) -> RunningMx:
    return mx_start()


def worker_drain(broker, worker, *queues: str, timeout_ms: int = 30_000) -> None:
    """Wait until the queues (default: all declared) are empty and the worker finished what it took.

    Twice, because finishing one job may enqueue another (processing -> notice, fan-out -> batches).
    Events, not sleeps: dramatiq's join waits on the queue and the worker."""
    names = queues or tuple(sorted(broker.get_declared_queues()))
    for _ in range(2):
        for queue in names:
            broker.join(queue, timeout=timeout_ms)
        worker.join()


def inbound_make(
    mailing_list,
    raw: bytes,
    *,
    kind: str = "post",
    envelope_from: str = "writer@example.org",
    envelope_to: str = "",
    peer_address: str = "127.0.0.1",
    helo: str = "sender.example",
):
    """A stored message as the MX would have stored it (tests of the worker stages call the pipeline directly)."""
    return InboundMessage.objects.create(
        kind=kind,
        mailing_list=mailing_list,
        envelope_from=envelope_from,
        envelope_to=envelope_to or f"{mailing_list.local_part}@test.localhost",
        peer_address=peer_address,
        helo=helo,
        raw=raw,
        size=len(raw),
    )


def list_admin_with_email(mailing_list, email_address: str):
    user = user_create(username=unique("admin"), email=email_address, password="x-Long-Password-1")
    list_admin_make(mailing_list, user)
    return user


def notice_text(notice) -> str:
    """The decoded text of a stored notice (its body may be quoted-printable or base64)."""
    return email.message_from_bytes(bytes(notice.raw), policy=email.policy.default).get_content()


def link_path(text: str, marker: str) -> str:
    """The path of the first link containing `marker` in a notice's text."""
    line = next(line for line in text.splitlines() if marker in line)
    return line[line.index(marker) :].strip()
