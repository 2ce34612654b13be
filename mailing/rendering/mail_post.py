"""Rendering a post that arrived by mail: the original MIME tree, new list headers, one To per copy.

The original body (text, HTML, attachments: everything after the header block) is sent byte for byte
(only line endings normalized to CRLF, as SMTP carries them). Of the top-level header fields, those
that would address other people, carry stale authentication results or belong to the list are
replaced; everything else is kept as the author's mail program wrote it.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from email.utils import format_datetime, make_msgid

from django.conf import settings
from django.utils import timezone

from mailing.addresses import bounce_address, leave_address, list_address
from mailing.dkim import DkimSigner, PreparedSigner, body_hash
from mailing.links import unsubscribe_link
from mailing.models import Broadcast
from mailing.rendering import ListContext, Recipient, RenderedMessage
from mailing.rendering.headers import (
    address_wire_form,
    display_name_decode,
    list_id_field,
    mailbox_field,
    raw_field,
    text_clean,
    unstructured_encode,
)
from mailing.smtp import data_terminated

# The fields that differ per recipient, in the order `render` puts them first.
PERSONAL_FIELDS = ("to", "list-unsubscribe")
_LINE_END = re.compile(rb"\r?\n")
# Replaced by the list, or not for recipients' eyes: other recipients (To, Cc, Bcc), results of
# authentication at our MX (a receiver must not trust them), the author's DKIM signature (we change
# signed headers; our own signature replaces it), and list headers of an upstream list.
_DROPPED = frozenset(
    {
        b"to",
        b"cc",
        b"bcc",
        b"return-path",
        b"delivered-to",
        b"x-original-to",
        b"envelope-to",
        b"dkim-signature",
        b"domainkey-signature",
        b"arc-seal",
        b"arc-message-signature",
        b"arc-authentication-results",
        b"authentication-results",
        b"received-spf",
        b"list-id",
        b"list-post",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
        b"list-help",
        b"list-subscribe",
        b"list-owner",
        b"list-archive",
        b"precedence",
        b"x-loop",
        b"errors-to",
        b"sender",
        # Read-receipt requests (RFC 8098 and older forms): each member's mail program would answer the
        # author, revealing that member's address to them (F1: no member sees another's address).
        b"disposition-notification-to",
        b"disposition-notification-options",
        b"return-receipt-to",
        b"x-confirm-reading-to",
        b"generate-delivery-report",
    }
)
_SIGNED = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "in-reply-to",
    "references",
    "list-id",
    "list-post",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
)


def message_split(raw: bytes) -> tuple[list[bytes], bytes]:
    """(header fields each with CRLF, body) of a raw message, line endings normalized to CRLF."""
    data = _LINE_END.sub(b"\r\n", raw)
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:  # no body at all
        head, body = data.rstrip(b"\r\n"), b""
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        elif b":" in line and not line.startswith(b"From "):  # mbox separators are not fields
            fields.append(line + b"\r\n")
    return fields, body


def _field_name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def subject_tagged(subject: str, tag: str) -> str | None:
    """The subject with the list's tag in front, or None when it is already there (a reply)."""
    tag = text_clean(tag, max_length=64)
    if not tag:
        return None
    bracketed = tag if tag.startswith("[") and tag.endswith("]") else f"[{tag}]"
    if bracketed.lower() in subject.lower():
        return None
    return f"{bracketed} {subject}".strip()


@dataclass
class MailPostRenderer:
    """Prepared once per broadcast; `render` is the cheap per-recipient step."""

    context: ListContext
    fixed_fields: list[bytes]
    body: bytes
    signer: PreparedSigner | None

    @classmethod
    def from_broadcast(cls, broadcast: Broadcast, context: ListContext) -> MailPostRenderer:
        raw = bytes(broadcast.inbound_message.raw) if broadcast.inbound_message_id else b""
        return cls.from_raw(raw, context=context, rewrite_from=broadcast.rewrite_from)

    @classmethod
    def from_raw(cls, raw: bytes, *, context: ListContext, rewrite_from: bool) -> MailPostRenderer:
        original_fields, body = message_split(raw)
        parsed = BytesHeaderParser(policy=policy.default).parsebytes(b"".join(original_fields) + b"\r\n")
        domain = context.domain
        post_address = list_address(context.local_part, domain)
        fields: list[bytes] = []
        fields.append(list_id_field(context.name, f"{context.local_part}.{domain}"))
        fields.append(raw_field("List-Post", f"<mailto:{post_address}>"))
        # RFC 8058 §3.1: the POST body a mail provider sends to the List-Unsubscribe URL.
        fields.append(raw_field("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        fields.append(raw_field("Precedence", "list"))
        fields.append(raw_field("X-Loop", post_address))

        kept: list[bytes] = []
        original_from = b""
        original_reply_to = b""
        for field in original_fields:
            name = _field_name(field)
            if name in _DROPPED:
                continue
            if name == b"from":
                original_from = field
                if rewrite_from:
                    continue
            if name == b"reply-to":
                original_reply_to = field
                if rewrite_from:
                    continue
            kept.append(field)
        names = {_field_name(field) for field in kept}

        if rewrite_from:
            # DMARC p=quarantine/reject at the author's domain: a copy From the author that we
            # re-signed would fail alignment, so it comes From the list, the author in Reply-To.
            author_name = _author_name(parsed, original_from)
            fields.append(mailbox_field("From", f"{author_name} via {context.name}", post_address))
            reply_to = original_reply_to or original_from
            if reply_to:
                fields.append(b"Reply-To:" + reply_to.split(b":", 1)[1])
        subject = str(parsed.get("subject", "") or "")
        tagged = subject_tagged(subject, context.subject_tag)
        if tagged is not None:
            kept = [field for field in kept if _field_name(field) != b"subject"]
            fields.append(unstructured_encode("Subject", tagged))
        if b"date" not in names:
            fields.append(raw_field("Date", format_datetime(timezone.now())))
        if b"message-id" not in names:
            fields.append(raw_field("Message-ID", make_msgid(domain=domain)))
        fixed = fields + kept

        signer = None
        if context.dkim_private_key and settings.OUTBOUND_DKIM_MODE == "per_recipient":
            present = {_field_name(field).decode("ascii", "replace") for field in fixed} | {"to", "list-unsubscribe"}
            signer = DkimSigner(
                domain=domain,
                selector=context.dkim_selector,
                private_pem=context.dkim_private_key,
                signed_header_names=tuple(name for name in _SIGNED if name in present),
                body_hash_b64=body_hash(body),
                timestamp=int(time.time()),
            ).prepared(fixed, PERSONAL_FIELDS)
        return cls(context=context, fixed_fields=fixed, body=body, signer=signer)

    @functools.cached_property
    def fixed_head(self) -> bytes:
        return b"".join(self.fixed_fields) + b"\r\n"

    @functools.cached_property
    def fixed_wire(self) -> bytes:
        """The shared fields and the body dot-stuffed and terminated once per broadcast (2 KB or 20 MB:
        the per-copy cost does not grow with the post). The personal fields put before them start with
        a field name or folding white space, never a ".", so they need no stuffing."""
        return data_terminated(self.fixed_head + self.body)

    def render(self, recipient: Recipient) -> RenderedMessage:
        domain = self.context.domain
        link = unsubscribe_link(domain=domain, token=recipient.token)
        leave = leave_address(self.context.local_part, domain)
        personal = [
            mailbox_field("To", recipient.name, recipient.address),
            raw_field("List-Unsubscribe", f"<{link}>, <mailto:{leave}>"),
        ]
        signature = self.signer.sign(personal) if self.signer else b""
        head = b"".join((signature, *personal))
        return RenderedMessage(
            envelope_from=bounce_address(self.context.local_part, domain, recipient.token),
            envelope_to=address_wire_form(recipient.address),
            data=head + self.fixed_head + self.body,
            wire=head + self.fixed_wire,
        )


def _author_name(parsed, original_from: bytes) -> str:
    raw_value = original_from.split(b":", 1)[-1].decode("utf-8", "replace")
    if "=?" in raw_value and (name := display_name_decode(raw_value)):
        return name  # encoded-words joined as RFC 2047 says (Python's parser adds spaces between them)
    try:
        addresses = parsed["from"].addresses
        if addresses:
            return addresses[0].display_name or addresses[0].username or "?"
    except (AttributeError, IndexError, TypeError, ValueError):
        pass
    return "?"
