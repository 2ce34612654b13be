"""Automatic mail to people: welcome, confirmations, moderation requests, reject notices, bounce warnings.

Every notice is an RFC 3834 automatic message: `Auto-Submitted: auto-replied` when it answers a mail,
`auto-generated` otherwise; answers to a mail go out with the null envelope sender <> so they can
never start a loop. Header values are made from text that passed `text_clean` (CR/LF collapsed) and
are written by mailing.rendering.headers, as list copies are (folded RFC 2047 words that read back
whole): nothing a sender or a form wrote can add a header (CVE-2024-6923 class of bug).
The notice is stored (mailing.Notice) and sent by a job after commit.
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
import smtplib
import time
from email.message import EmailMessage

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mailing.addresses import list_address
from mailing.dkim import message_sign
from mailing.models import InboundMessage, MailingList, Notice
from mailing.rendering.headers import (
    UnusableAddressError,
    address_wire_form,
    mailbox_field,
    raw_field,
    text_clean,
    unstructured_encode,
)
from mailing.smtp import message_send
from tenants.jobs import job_send_on_commit

logger = logging.getLogger(__name__)

AUTO_REPLIED = "auto-replied"
AUTO_GENERATED = "auto-generated"


def notice_language() -> str:
    return getattr(connection.tenant, "language", "") or "ja"


# Headers are written by mailing.rendering.headers (as for list copies) and kept as written: the
# policy's refolding would cut a long Japanese list name into encoded-words that Python's own
# parser reads back with extra spaces.
NOTICE_POLICY = email.policy.SMTP.clone(refold_source="none")


def notice_message_build(
    *,
    from_address: str,
    from_name: str,
    to: str,
    subject: str,
    body: str,
    auto_submitted: str,
    x_loop: str = "",
    in_reply_to: str = "",
    reply_to: str = "",
) -> EmailMessage:
    """The notice as a message. Raises UnusableAddressError when `to` is not a usable address."""
    domain = from_address.rpartition("@")[2] or "localhost"
    fields = [
        mailbox_field("From", from_name, text_clean(from_address)),
        mailbox_field("To", "", text_clean(to)),
        unstructured_encode("Subject", subject),
        raw_field("Date", email.utils.format_datetime(timezone.now())),
        raw_field("Message-ID", email.utils.make_msgid(domain=domain)),
        raw_field("Auto-Submitted", auto_submitted),
    ]
    if x_loop:
        fields.append(raw_field("X-Loop", text_clean(x_loop)))
    if reply_to:
        fields.append(mailbox_field("Reply-To", "", text_clean(reply_to)))
    in_reply_to = text_clean(in_reply_to)
    if in_reply_to.startswith("<") and in_reply_to.endswith(">") and " " not in in_reply_to and in_reply_to.isascii():
        fields.append(raw_field("In-Reply-To", in_reply_to))
        fields.append(raw_field("References", in_reply_to))
    content = EmailMessage(policy=email.policy.SMTP)
    content.set_content(body, charset="utf-8")  # MIME-Version, Content-Type, Content-Transfer-Encoding, body
    return email.message_from_bytes(b"".join(fields) + content.as_bytes(), policy=NOTICE_POLICY)


@transaction.atomic
def notice_queue(
    *,
    kind: str,
    mailing_list: MailingList,
    to: str,
    subject: str,
    body: str,
    answering: InboundMessage | None = None,
    in_reply_to: str = "",
    reply_to: str = "",
) -> Notice | None:
    """Store a notice from the list; it is sent after commit. Returns None when `to` is not an address."""
    to = text_clean(to)
    domain = connection.tenant.get_primary_domain().domain
    bounces = f"{mailing_list.local_part}-bounces@{domain}"
    try:
        message = notice_message_build(
            from_address=bounces,
            from_name=mailing_list.name,
            to=to,
            subject=subject,
            body=body,
            auto_submitted=AUTO_REPLIED if answering is not None else AUTO_GENERATED,
            x_loop=list_address(mailing_list.local_part, domain).lower(),
            in_reply_to=in_reply_to,
            reply_to=reply_to,
        )
    except UnusableAddressError:
        logger.info("notice not sent: unusable recipient", extra={"kind": kind})
        return None
    notice = Notice.objects.create(
        kind=kind,
        inbound_message=answering,
        # RFC 3834 3.3: a response goes out with a null return path; other notices let bounces reach
        # the list's bounce address, where they are recorded and dropped.
        envelope_from="" if answering is not None else bounces,
        recipient=to,
        raw=message.as_bytes(),
    )
    # robust: the processing that decided the notice has committed and must not fail for a broker
    # that is down. Nothing re-enqueues such a notice yet: it stays QUEUED (visible in the table).
    job_send_on_commit("send_notice", connection.schema_name, notice.id, robust=True)
    return notice


def notice_signed(raw: bytes) -> bytes:
    """The notice DKIM-signed with the organization domain's key, like its list copies (unless the
    relay signs: OUTBOUND_DKIM_MODE=relay)."""
    domain = connection.tenant.get_primary_domain()
    if settings.OUTBOUND_DKIM_MODE != "per_recipient" or not domain.dkim_private_key:
        return raw
    return message_sign(
        raw,
        domain=domain.domain,
        selector=domain.dkim_selector,
        private_pem=domain.dkim_private_key,
        timestamp=int(time.time()),
    )


def notice_send(*, notice_id: int) -> None:
    """Send one queued notice through the relay. 4xx and connection trouble raise (the job retries); 5xx fails it."""
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(id=notice_id, state=Notice.State.QUEUED).first()
        if notice is None:
            return
        notice.attempts += 1
        try:
            recipient = address_wire_form(notice.recipient)
        except UnusableAddressError:
            notice.state = Notice.State.FAILED
            notice.last_response = "553 5.1.3 unusable address (not sent)"
        else:
            [(code, reply)] = message_send(
                envelope_from=notice.envelope_from, recipients=[recipient], data=notice_signed(bytes(notice.raw))
            ).values()
            if 400 <= code < 500:
                raise smtplib.SMTPResponseException(code, reply)  # temporary: the job retries
            if code >= 500:
                notice.state = Notice.State.FAILED
            else:
                notice.state = Notice.State.SENT
                notice.sent_at = timezone.now()
            notice.last_response = reply[:1000]
        notice.save(update_fields=["state", "attempts", "last_response", "sent_at"])
