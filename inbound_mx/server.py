"""The inbound MX: an aiosmtpd server for every organization's list addresses.

The mail issue gives the handler its job (route at RCPT, store then enqueue at DATA). Until then it
refuses every recipient, so nothing is accepted that would be lost.
"""

from __future__ import annotations

from aiosmtpd.smtp import SMTP, Envelope, Session


class InboundHandler:
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        return "550 5.1.1 No such recipient here"
