"""The outbound relay named by OUTBOUND_SMTP_URL: connecting to it, and the SMTP wire work of a batch.

`smtp://host:port` (plain; STARTTLS when `?starttls=1`), `smtps://host:port` (TLS from the start),
optional `user:password@` for AUTH. In development the URL points at the local mail catcher.

A delivery batch (mailing.services.delivery_batches) talks to the relay through the wire helpers
below rather than smtplib's `sendmail`: replies are read without smtplib's per-line bookkeeping, and
envelopes and contents are written as prepared bytes (docs/adr/0002, decision 5).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)
_MAX_REPLY_LINE = 8192  # smtplib._MAXLINE


def dot_stuffed(data: bytes) -> bytes:
    """CRLF lines with dot-stuffing (RFC 5321 §4.5.2): a line that starts with "." gets another."""
    return _LEADING_DOT.sub(b"..", data)


def data_terminated(data: bytes) -> bytes:
    """DATA content (CRLF lines) with dot-stuffing (RFC 5321 §4.5.2) and the terminating `.` line."""
    stuffed = dot_stuffed(data)
    if stuffed and not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


@dataclass(frozen=True)
class RelayConfig:
    host: str
    port: int
    use_tls: bool
    use_starttls: bool
    username: str
    password: str
    timeout: float


def relay_config(url: str | None = None) -> RelayConfig:
    parts = urlsplit(url or settings.OUTBOUND_SMTP_URL)
    if parts.scheme not in {"smtp", "smtps"}:
        raise ValueError(f"OUTBOUND_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme!r}")
    query = parse_qs(parts.query)
    use_tls = parts.scheme == "smtps"
    return RelayConfig(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        use_starttls=query.get("starttls", ["0"])[0] in {"1", "true", "yes"},
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        timeout=float(query.get("timeout", ["30"])[0]),
    )


def relay_connect(config: RelayConfig | None = None) -> smtplib.SMTP:
    """Open an authenticated connection to the relay; the caller reuses it for a batch and quits it."""
    config = config or relay_config()
    if config.use_tls:
        connection: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=ssl.create_default_context()
        )
    else:
        connection = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        if config.use_starttls:
            connection.starttls(context=ssl.create_default_context())
    if config.username:
        connection.login(config.username, config.password)
    return connection


def relay_close(relay: smtplib.SMTP | None) -> None:
    """QUIT, or just close when the relay is gone already."""
    if relay is None:
        return
    try:
        relay.quit()
    except (smtplib.SMTPException, OSError):
        relay.close()


def reply_text(code: int, message: bytes | str) -> str:
    """A reply as one line of text for the delivery's record, e.g. `250 2.0.0 Ok: queued`."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"[:1000]


def closing_check(code: int, reply: bytes | str) -> None:
    """RFC 5321 §3.8: 421 means the server is closing the channel; treat it as a dropped connection."""
    if code == 421:
        raise smtplib.SMTPServerDisconnected(reply_text(code, reply))


def reply_read(relay: smtplib.SMTP) -> tuple[int, bytes]:
    """smtplib's getreply (same result, same errors) without its per-line bookkeeping: a copy reads
    four replies, and at thousands of copies a second the interpreter's time is the bottleneck."""
    file = relay.file
    if file is None:
        file = relay.file = relay.sock.makefile("rb")
    lines = []
    while True:
        line = file.readline(_MAX_REPLY_LINE + 1)
        if not line:
            relay.close()
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        if len(line) > _MAX_REPLY_LINE:
            relay.close()
            raise smtplib.SMTPResponseException(500, "Line too long.")
        lines.append(line[4:].strip(b" \t\r\n"))
        if line[3:4] != b"-":
            break
    try:
        code = int(line[:3])
    except ValueError:
        code = -1
    return code, b"\n".join(lines)


def envelope_commands(envelope_from: str, envelope_to: str) -> bytes:
    """MAIL, RCPT and DATA as one write (a command group for a PIPELINING relay, RFC 2920).

    The addresses are in wire form already (smtplib's quoteaddr would re-parse them and unquote
    "taro..yamada"@docomo.ne.jp)."""
    return f"MAIL FROM:<{envelope_from}>\r\nRCPT TO:<{envelope_to}>\r\nDATA\r\n".encode()


def transaction_send(
    relay: smtplib.SMTP, *, envelope_from: str, envelope_to: str, wire: bytes, before_content: Callable[[], None]
) -> tuple[int, str]:
    """One MAIL/RCPT/DATA transaction, one command at a time (a relay without PIPELINING). `wire` is
    the content as DATA carries it (data_terminated). Returns the deciding reply; connection errors
    propagate. `before_content` (recording the previous copy's outcome) runs before MAIL."""
    before_content()
    replies = []
    for line in (f"MAIL FROM:<{envelope_from}>", f"RCPT TO:<{envelope_to}>", "DATA"):
        relay.send(line + "\r\n")
        replies.append(reply_read(relay))
        closing_check(*replies[-1])
        if replies[-1][0] >= 400:
            break
    code, reply = replies[-1]
    if code == 354:
        relay.send(wire)
        code, reply = reply_read(relay)
        closing_check(code, reply)
        return code, reply_text(code, reply)
    relay.rset()
    return code, reply_text(code, reply)


def message_send(
    *, envelope_from: str, recipients: list[str], data: bytes, config: RelayConfig | None = None
) -> dict[str, tuple[int, str]]:
    """Send one message (CRLF lines) to each recipient (wire form: "taro..yamada"@docomo.ne.jp stays
    quoted, which smtplib's sendmail would undo) through the relay: {recipient: (code, reply)}, one
    transaction each. Connection trouble raises (OSError, smtplib.SMTPException): the caller retries."""
    relay = relay_connect(config)
    try:
        relay.ehlo_or_helo_if_needed()
        wire = data_terminated(data)
        return {
            recipient: transaction_send(
                relay, envelope_from=envelope_from, envelope_to=recipient, wire=wire, before_content=lambda: None
            )
            for recipient in recipients
        }
    finally:
        relay_close(relay)
