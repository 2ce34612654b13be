"""Real mail plumbing for tests: a capturing SMTP relay and an in-process dramatiq worker."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import dramatiq
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tenants.jobs import actors_import


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class CapturedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class CaptureHandler:
    """Keeps every message; answers chosen recipients with a chosen reply (e.g. 451 or 550)."""

    messages: list[CapturedMail] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)  # the reply to the final "." instead of 250
    condition: threading.Condition = field(default_factory=threading.Condition)
    # Advertised like Postfix does, so the tests take the outbound path production takes (envelope
    # pipelined, RFC 2920); aiosmtpd reads commands from a stream, so it serves pipelined input.
    pipelining: bool = True

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            return [responses[0], "250-PIPELINING", *responses[1:]]
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for address in envelope.rcpt_tos:
            if address.lower() in self.data_replies:
                return self.data_replies[address.lower()]
        with self.condition:
            self.messages.append(CapturedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            self.condition.notify_all()
        return "250 2.0.0 captured"


@dataclass
class SmtpCapture:
    handler: CaptureHandler
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[CapturedMail]:
        return self.handler.messages

    def reply_to_recipient(self, address: str, reply: str) -> None:
        self.handler.rcpt_replies[address.lower()] = reply

    def wait_for(self, count: int, timeout: float = 20) -> list[CapturedMail]:
        """Wait until at least `count` messages arrived (an event, not a sleep); return them all."""
        deadline = time.monotonic() + timeout
        with self.handler.condition:
            while len(self.handler.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} messages, got {len(self.handler.messages)}")
                self.handler.condition.wait(remaining)
            return list(self.handler.messages)


@pytest.fixture
def smtp_capture(settings) -> Iterator[SmtpCapture]:
    """A real SMTP relay on loopback that captures outbound mail; OUTBOUND_SMTP_URL points at it."""
    handler = CaptureHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.OUTBOUND_SMTP_URL = f"smtp://127.0.0.1:{port}"
    try:
        yield SmtpCapture(handler=handler, port=port)
    finally:
        controller.stop()


@pytest.fixture
def dramatiq_broker() -> dramatiq.Broker:
    broker = dramatiq.get_broker()
    actors_import()
    broker.flush_all()
    return broker


@pytest.fixture
def dramatiq_worker(dramatiq_broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
    """A real dramatiq worker (threads in this process) on the real Redis broker."""
    worker = dramatiq.Worker(dramatiq_broker, worker_threads=4, worker_timeout=50)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        dramatiq_broker.flush_all()
