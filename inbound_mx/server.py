"""The inbound MX: an aiosmtpd server for every organization's list addresses.

Thin on purpose (STYLE.md 5, Zulip's email_mirror_server): RCPT routes the address or refuses it
(550, never accept-then-bounce); DATA checks the broker, stores the raw message and envelope in the
tenant schema, commits, and only then answers 250. Everything else happens in the worker.
Our own faults answer 451 4.3.0 so the sending MTA retries (RFC 5321 4.2.1); aiosmtpd's default
exception reply would be a 500, which would make the sender give up on a message we lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dramatiq
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections, connections

from mailing import mx as mailing_mx

logger = logging.getLogger(__name__)

REPLY_TEMPORARY = "451 4.3.0 Temporary local problem, please try again later"
REPLY_UNKNOWN = "550 5.1.1 No such recipient here"
REPLY_TOO_MANY = "452 4.5.3 Too many recipients"
MAX_RECIPIENTS = 100


def broker_check() -> None:
    """Raise when the job broker cannot take work: then we must not accept (the message would wait for the sweeper)."""
    client = getattr(dramatiq.get_broker(), "client", None)
    if client is not None:
        client.ping()


class InboundHandler:
    def __init__(self, *, enqueue: mailing_mx.Enqueue = mailing_mx.process_inbound_enqueue, threads: int = 8) -> None:
        self.enqueue = enqueue
        # Django's ORM is synchronous: database work runs on a small pool, off the event loop.
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mx-db")

    def shutdown(self) -> None:
        """Close every pool thread's database connection, then the pool (when the MX stops)."""
        size = self.executor._max_workers
        barrier = threading.Barrier(size, timeout=10)

        def close_own() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()  # one task per thread: each closes its own connection
            connections.close_all()

        for future in [self.executor.submit(close_own) for _ in range(size)]:
            future.result(timeout=15)
        self.executor.shutdown(wait=True)

    async def _run(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            close_old_connections()  # a connection broken by a database restart is replaced, not reused
            return function(*args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        routes = envelope.__dict__.setdefault("routes", [])
        if len(routes) >= MAX_RECIPIENTS:
            return REPLY_TOO_MANY
        route = await self._run(mailing_mx.route_resolve, address)
        if route is None:
            return REPLY_UNKNOWN
        routes.append((route, address))
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else None
        stored_envelope = mailing_mx.Envelope(
            mail_from=(envelope.mail_from or "").strip("<>"), peer_address=peer, helo=session.host_name or ""
        )
        try:
            await self._run(broker_check)
            stored = await self._run(
                mailing_mx.inbound_messages_store,
                envelope=stored_envelope,
                recipients=list(envelope.__dict__.get("routes", [])),
                raw=raw,
                enqueue=self.enqueue,
            )
        except Exception:
            logger.exception("could not store an inbound message; answered 451", extra={"peer": peer})
            return REPLY_TEMPORARY
        logger.info("inbound message stored", extra={"stored": stored, "size": len(raw)})
        return "250 2.0.0 Message accepted for delivery"

    async def handle_exception(self, error: Exception) -> str:
        logger.error("MX session error; answered 451", exc_info=error)
        return REPLY_TEMPORARY


class InboundSMTP(SMTP):
    """aiosmtpd's SMTP with enhanced status codes (RFC 3463) on its built-in size refusals."""

    _REWRITES = {
        "552 Error: Too much mail data": "552 5.3.4 Message too big for this system",
        "552 Error: message size exceeds fixed maximum message size": "552 5.3.4 Message too big for this system",
    }

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str):
            status = self._REWRITES.get(status, status)
        await super().push(status)


class InboundController(Controller):
    def factory(self) -> SMTP:
        return InboundSMTP(self.handler, **self.SMTP_kwargs)

    def stop(self, *args: Any, **kwargs: Any) -> None:
        super().stop(*args, **kwargs)
        if isinstance(self.handler, InboundHandler):
            self.handler.shutdown()


def tls_context_make(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def mx_controller_make(
    *, host: str, port: int, handler: InboundHandler | None = None, tls_context: ssl.SSLContext | None = None
) -> InboundController:
    """The MX as the run_mx command and the tests start it: size limit, SMTPUTF8, STARTTLS when configured."""
    if tls_context is None and settings.MX_TLS_CERT and settings.MX_TLS_KEY:
        tls_context = tls_context_make(settings.MX_TLS_CERT, settings.MX_TLS_KEY)
    return InboundController(
        handler or InboundHandler(),
        hostname=host,
        port=port,
        server_hostname=settings.MX_HOSTNAME,
        ident="mailing-platform MX",
        data_size_limit=settings.MAIL_MAX_MESSAGE_BYTES,
        enable_SMTPUTF8=True,
        decode_data=False,
        tls_context=tls_context,
        require_starttls=False,
    )
