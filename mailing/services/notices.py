"""Automatic mail to people: welcome, confirmations, moderation requests, reject notices, bounce warnings.

Every notice is an RFC 3834 automatic message: `Auto-Submitted: auto-replied` when it answers a mail,
`auto-generated` otherwise; answers to a mail go out with the null envelope sender <> so they can
never start a loop. Header values are made from text that passed `text_clean` (CR/LF collapsed) and
then through email.policy.SMTP, which refuses any remaining line break: nothing a sender or a form
wrote can add a header (CVE-2024-6923 class of bug).
The notice is stored (mailing.Notice) and sent by a job after commit.
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
import smtplib
from email.message import EmailMessage

from django.db import connection, transaction
from django.utils import timezone

from mailing.addresses import list_address
from mailing.models import InboundMessage, MailingList, Notice
from mailing.rendering.headers import text_clean
from mailing.smtp import relay_connect
from tenants.jobs import job_send_on_commit

logger = logging.getLogger(__name__)

AUTO_REPLIED = "auto-replied"
AUTO_GENERATED = "auto-generated"


def notice_language() -> str:
    return getattr(connection.tenant, "language", "") or "ja"


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
    message = EmailMessage(policy=email.policy.SMTP)
    domain = from_address.rpartition("@")[2] or "localhost"
    message["From"] = email.utils.formataddr((text_clean(from_name), text_clean(from_address)))
    message["To"] = text_clean(to)
    message["Subject"] = text_clean(subject)
    message["Date"] = email.utils.format_datetime(timezone.now())
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    message["Auto-Submitted"] = auto_submitted
    if x_loop:
        message["X-Loop"] = text_clean(x_loop)
    if reply_to:
        message["Reply-To"] = text_clean(reply_to)
    in_reply_to = text_clean(in_reply_to)
    if in_reply_to.startswith("<") and in_reply_to.endswith(">") and " " not in in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body, charset="utf-8")
    return message


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
    if "@" not in to or any(ch in to for ch in '<>,;"\\'):
        logger.info("notice not sent: unusable recipient", extra={"kind": kind})
        return None
    domain = connection.tenant.get_primary_domain().domain
    bounces = f"{mailing_list.local_part}-bounces@{domain}"
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


def notice_send(*, notice_id: int) -> None:
    """Send one queued notice through the relay. 4xx and connection trouble raise (the job retries); 5xx fails it."""
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(id=notice_id, state=Notice.State.QUEUED).first()
        if notice is None:
            return
        notice.attempts += 1
        connection_ = relay_connect()
        try:
            connection_.sendmail(notice.envelope_from, [notice.recipient], bytes(notice.raw))
        except smtplib.SMTPRecipientsRefused as error:
            code, response = next(iter(error.recipients.values()))
            if code < 500:
                raise
            notice.state = Notice.State.FAILED
            notice.last_response = f"{code} {response!r}"[:1000]
        except smtplib.SMTPResponseException as error:
            if error.smtp_code < 500:
                raise
            notice.state = Notice.State.FAILED
            notice.last_response = f"{error.smtp_code} {error.smtp_error!r}"[:1000]
        else:
            notice.state = Notice.State.SENT
            notice.sent_at = timezone.now()
        finally:
            try:
                connection_.quit()
            except Exception:
                logger.debug("relay quit failed", exc_info=True)
        notice.save(update_fields=["state", "attempts", "last_response", "sent_at"])
