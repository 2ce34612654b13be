"""The one outbound path for mail sent through Django's e-mail API (`send_mail`, `EmailMessage`).

Password resets and address verification (allauth), invitations of new admins, the public sign-up's
verification: everything Django sends goes through `EmailBackend` (settings.EMAIL_BACKEND), which

- sends through the relay named by OUTBOUND_SMTP_URL, like list copies and notices (in development
  the local catcher, so it shows in var/mail/ and on the dev mail page);
- uses the current organization's own no-reply address when the caller leaves the sender at
  DEFAULT_FROM_EMAIL on an organization's host (or in its jobs), and the platform's on the platform
  host, and DKIM-signs with that domain's key (the organization's, or the platform domain's), as
  list mail is signed (nothing is signed here with OUTBOUND_DKIM_MODE=relay: the relay signs);
- never turns a web page into a 500 because of the relay: a relay that cannot be reached or answers
  4xx gets the mail queued (OutboundMail, public schema) and the scheduler retries it with backoff
  until OUTBOUND_MAIL_DEADLINE_SECONDS; a 5xx refusal is logged and not retried. Only when the
  mail can be neither sent nor queued (the database is down too) does the caller get
  OutboundMailUnavailableError, which the web answers with a "try again later" page (503).

Use it as Django's API: `send_mail(subject, body, None, [address])` from any organization's host,
job or the platform host (docs/mail.md).
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from mailing.dkim import message_sign
from mailing.rendering.headers import (
    UnusableAddressError,
    address_wire_form,
    encoded_words_decode,
    mailbox_field,
    unstructured_encode,
)
from mailing.smtp import message_send, relay_config
from saas_platform.models import OutboundMail
from tenants.models import Domain

logger = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 60
RETRY_MAX_SECONDS = 3600


class OutboundMailUnavailableError(Exception):
    """The mail could be neither handed to the relay nor queued: the person should try again later."""


@dataclass(frozen=True)
class Outgoing:
    envelope_from: str
    recipients: list[str]  # wire form
    data: bytes


def _organization():
    tenant = getattr(connection, "tenant", None)
    if tenant is None or connection.schema_name in {settings.PUBLIC_SCHEMA_NAME, settings.TENANT_TEMPLATE_SCHEMA}:
        return None
    return tenant


def _sender(message: EmailMessage) -> str:
    """DEFAULT_FROM_EMAIL means "us": on an organization's host, its own no-reply address (the domain
    its people allow in their carriers' filters), with its name; elsewhere the platform's."""
    if message.from_email and message.from_email != settings.DEFAULT_FROM_EMAIL:
        return message.from_email
    organization = _organization()
    if organization is None:
        return settings.DEFAULT_FROM_EMAIL
    domain = organization.get_primary_domain().domain
    return email.utils.formataddr((organization.name, f"no-reply@{domain}"))


def _signed(data: bytes, from_address: str) -> bytes:
    if settings.OUTBOUND_DKIM_MODE != "per_recipient":
        return data
    domain_name = from_address.rpartition("@")[2].lower()
    domain = Domain.objects.filter(domain=domain_name).exclude(dkim_private_key="").first()
    if domain is None:
        logger.warning("no DKIM key for the sender's domain; sent unsigned", extra={"domain": domain_name})
        return data
    return message_sign(
        data,
        domain=domain.domain,
        selector=domain.dkim_selector,
        private_pem=domain.dkim_private_key,
        timestamp=int(time.time()),
    )


def outgoing_make(message: EmailMessage) -> Outgoing:
    """The message as it leaves: our sender, a Message-ID of its domain, Auto-Submitted, DKIM."""
    message.from_email = _sender(message)
    from_address = email.utils.parseaddr(message.from_email)[1]
    domain = from_address.rpartition("@")[2] or settings.PLATFORM_DOMAIN
    headers = {name.lower() for name in message.extra_headers}
    if "message-id" not in headers:
        message.extra_headers["Message-ID"] = email.utils.make_msgid(domain=domain)
    if "auto-submitted" not in headers:
        message.extra_headers["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    recipients = []
    for recipient in message.recipients():
        try:
            recipients.append(address_wire_form(email.utils.parseaddr(recipient)[1] or recipient))
        except UnusableAddressError:
            logger.warning("mail not sent to an unusable address")
    data = message.message().as_bytes(linesep="\r\n")
    # Django folds long encoded headers starting with an empty line ("Subject:" CRLF " =?utf-8?..."),
    # which reads back with a leading space, and cuts a Japanese display name into encoded-words that
    # Python's parser joins with spaces: our own writers (the same as list mail) replace both fields.
    from_name = email.utils.parseaddr(message.from_email)[0]
    from_name = encoded_words_decode(from_name) if "=?" in from_name else from_name  # as formataddr wrote it
    data = _field_replaced(data, "Subject", unstructured_encode("Subject", message.subject))
    data = _field_replaced(data, "From", mailbox_field("From", from_name, from_address))
    return Outgoing(envelope_from=from_address, recipients=recipients, data=_signed(data, from_address))


def _field_replaced(data: bytes, name: str, field: bytes) -> bytes:
    """`data` with its header field `name` (and its folded lines) replaced by `field` (CRLF-ended)."""
    head, separator, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    out: list[bytes] = []
    skipping = False
    for line in lines:
        if skipping and line[:1] in (b" ", b"\t"):
            continue
        skipping = line.split(b":", 1)[0].strip().lower() == name.lower().encode()
        if skipping:
            out.append(field.rstrip(b"\r\n"))
        else:
            out.append(line)
    return b"\r\n".join(out) + separator + body


def _attempt(outgoing: Outgoing, recipients: list[str]) -> tuple[list[str], list[str], str]:
    """One try: (delivered, to retry, last reply). Connection trouble: everything is to retry."""
    config = relay_config()
    # A person is waiting for the page: a relay that hangs is given a short time, then the mail waits.
    config = dataclasses.replace(config, timeout=min(config.timeout, settings.OUTBOUND_MAIL_SEND_TIMEOUT_SECONDS))
    try:
        replies = message_send(
            envelope_from=outgoing.envelope_from, recipients=recipients, data=outgoing.data, config=config
        )
    except (OSError, smtplib.SMTPException) as error:
        return [], recipients, f"relay unreachable: {error}"[:1000]
    delivered = [r for r, (code, _) in replies.items() if 200 <= code < 300]
    retry = [r for r, (code, _) in replies.items() if 400 <= code < 500]
    for code, reply in replies.values():
        if code >= 500:
            logger.error("relay refused a mail for good", extra={"reply": reply})
    last = next((reply for _, (code, reply) in replies.items() if code >= 400), "")
    return delivered, retry, last


def outgoing_send(outgoing: Outgoing) -> bool:
    """Hand the mail to the relay now, or queue it for the scheduler. True when it is on its way."""
    if not outgoing.recipients:
        return False
    delivered, retry, last = _attempt(outgoing, outgoing.recipients)
    if retry:
        try:
            with transaction.atomic():
                OutboundMail.objects.create(
                    envelope_from=outgoing.envelope_from,
                    recipients=retry,
                    data=outgoing.data,
                    schema_name=connection.schema_name,
                    attempts=1,
                    last_error=last,
                    next_attempt_at=timezone.now() + timedelta(seconds=RETRY_FIRST_SECONDS),
                )
        except DatabaseError as error:
            raise OutboundMailUnavailableError(last) from error
        logger.warning("relay did not take a mail; queued for retry", extra={"error": last})
    return bool(delivered or retry)


class EmailBackend(BaseEmailBackend):
    """settings.EMAIL_BACKEND: Django's mail through the platform's outbound path (module docstring)."""

    def send_messages(self, email_messages: list[EmailMessage]) -> int:
        return sum(1 for message in email_messages if outgoing_send(outgoing_make(message)))


def outbound_mail_retry_due() -> int:
    """Scheduler job (settings.SCHEDULER_JOBS): send queued mail whose next attempt is due. Returns
    how many mails left the queue (sent or given up)."""
    now = timezone.now()
    finished = 0
    with transaction.atomic():
        due = list(
            OutboundMail.objects.select_for_update(skip_locked=True)
            .filter(state=OutboundMail.State.QUEUED, next_attempt_at__lte=now)
            .order_by("next_attempt_at")[:20]
        )
        for mail in due:
            outgoing = Outgoing(envelope_from=mail.envelope_from, recipients=mail.recipients, data=bytes(mail.data))
            delivered, retry, last = _attempt(outgoing, mail.recipients)
            mail.attempts += 1
            mail.last_error = last
            if retry and now - mail.created_at < timedelta(seconds=settings.OUTBOUND_MAIL_DEADLINE_SECONDS):
                mail.recipients = retry
                backoff = min(RETRY_FIRST_SECONDS * 2 ** (mail.attempts - 1), RETRY_MAX_SECONDS)
                mail.next_attempt_at = now + timedelta(seconds=backoff)
            else:
                if retry:
                    logger.error("queued mail given up at its deadline", extra={"mail": mail.id, "error": last})
                mail.state = OutboundMail.State.SENT if delivered and not retry else OutboundMail.State.FAILED
                mail.sent_at = now if delivered else None
                mail.data = b""  # a reset key or a verification link does not stay in the database
                finished += 1
            mail.save()
    return finished
