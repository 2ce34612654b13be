"""The local outbound mail catcher for development: an SMTP server that keeps every mail as a file.

With OUTBOUND_SMTP_URL unset, `make run` sends outbound mail here; each message is written to
var/mail/<timestamp>-<n>.eml with its envelope in X-Catcher-* headers, and DEBUG consoles list them.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

_counter = itertools.count()


class CatcherHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        name = f"{time.time_ns()}-{next(_counter)}.eml"
        head = (
            f"X-Catcher-Mail-From: <{envelope.mail_from}>\r\n"
            f"X-Catcher-Rcpt-To: {', '.join(f'<{r}>' for r in envelope.rcpt_tos)}\r\n"
        ).encode()
        data = envelope.original_content or b""
        temporary = self.directory / (name + ".tmp")
        temporary.write_bytes(head + data)
        temporary.rename(self.directory / name)
        return "250 2.0.0 kept"


def caught_mail_list(directory: Path, *, limit: int = 100) -> list[Path]:
    return sorted(directory.glob("*.eml"), reverse=True)[:limit]
