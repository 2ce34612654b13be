"""Connections to the outbound relay named by OUTBOUND_SMTP_URL.

`smtp://host:port` (plain; STARTTLS when `?starttls=1`), `smtps://host:port` (TLS from the start),
optional `user:password@` for AUTH. In development the URL points at the local mail catcher.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


def data_terminated(data: bytes) -> bytes:
    """DATA content (CRLF lines) with dot-stuffing (RFC 5321 §4.5.2) and the terminating `.` line."""
    stuffed = _LEADING_DOT.sub(b"..", data)
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
