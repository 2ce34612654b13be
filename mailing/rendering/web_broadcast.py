"""Rendering a broadcast composed in the console: one plain-text mail per recipient whose body ends
with their own read-confirmation and survey links (F7, F9, F10).

Prepared once per broadcast per worker process, like a mail post (docs/adr/0002): the header fields,
the MIME structure, the attachments (base64, dot-stuffed) and the SHA-256 state of everything before
the personal text are made once. The text is UTF-8 in base64 (Japanese mobile carriers read it; no
line ever nears 998 octets whatever the body): its fixed part up to the last whole group of 57 bytes
(one 76-character base64 line) is encoded once, and per recipient only the rest of it and the footer
with the links (a few hundred bytes) are encoded. The body differs per recipient, so the DKIM body
hash does too: it continues the prepared SHA-256 state (`hashlib` copy) over the personal part and
the fixed tail, which are already in relaxed canonical form (base64 lines, our own part headers).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time
import zoneinfo
from dataclasses import dataclass
from email import policy
from email.message import MIMEPart
from email.utils import format_datetime

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from mailing.addresses import bounce_address, list_address
from mailing.dkim import DkimSigner, PreparedSigner, body_canonicalize_relaxed
from mailing.links import read_confirmation_link, survey_choice_link, unsubscribe_link
from mailing.models import Broadcast
from mailing.rendering import ListContext, Recipient, RenderedMessage
from mailing.rendering.headers import address_wire_form, list_id_field, mailbox_field, raw_field, unstructured_encode
from mailing.rendering.web_content import WebBroadcastContent, web_broadcast_content
from mailing.smtp import dot_stuffed

PERSONAL_FIELDS = ("to", "list-unsubscribe")
TOKEN_MARK = "\x00token\x00"  # noqa: S105 (where the recipient's token goes, not a secret)
_B64_GROUP = 57  # bytes per 76-character base64 line
_SIGNED = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-id",
    "list-post",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
)


def footer_text(content: WebBroadcastContent, *, domain: str, token: str) -> str:
    """What the body ends with: the personal read-confirmation link and one link per survey choice,
    in the organization's language."""
    if not content.read_confirmation and not content.questions:
        return ""
    with translation.override(content.language):
        lines = ["", "", "―" * 20]
        if content.read_confirmation:
            lines += [
                _("■ Read confirmation"),
                _("When you have read this message, open the address below and press the button on the page."),
                read_confirmation_link(domain=domain, token=token),
                "",
            ]
        if content.questions:
            lines.append(_("■ Survey"))
            if content.survey_deadline is not None:
                zone = zoneinfo.ZoneInfo(content.time_zone)
                with timezone.override(zone):
                    deadline = formats.date_format(timezone.localtime(content.survey_deadline), "DATETIME_FORMAT")
                lines.append(_("Please answer by %(deadline)s.") % {"deadline": deadline})
            lines.append(_("Open the address of your answer and press the button on the page."))
            for number, question in enumerate(content.questions, start=1):
                lines.append("")
                lines.append(f"Q{number}. {question.text}" if len(content.questions) > 1 else question.text)
                for choice_id, label in question.choices:
                    lines.append(f"  {label}")
                    lines.append(f"  {survey_choice_link(domain=domain, token=token, choice_id=choice_id)}")
            lines.append("")
        lines.append(_("These addresses are personal to you: please do not forward them."))
    return "\r\n".join(lines)


def body_text_normalized(text: str) -> str:
    return "\r\n".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")).rstrip()


def _b64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))


def _attachment_part(filename: str, content_type: str, data: bytes) -> bytes:
    maintype, _, subtype = content_type.partition("/")
    if not maintype or not subtype or maintype == "multipart":
        maintype, subtype = "application", "octet-stream"
    part = MIMEPart(policy=policy.SMTP)
    part.set_content(
        data, maintype=maintype, subtype=subtype, filename=filename, disposition="attachment", cte="base64"
    )
    return part.as_bytes()


def _list_unsubscribe_field(url: str) -> bytes:
    field = f"List-Unsubscribe: <{url}>"
    if len(field) > 78:  # folded before the URL (RFC 2369 allows whitespace there): lines stay short
        field = f"List-Unsubscribe:\r\n <{url}>"
    return field.encode("ascii") + b"\r\n"


@dataclass
class WebBroadcastRenderer:
    """Prepared once per broadcast; `render` is the cheap per-recipient step."""

    context: ListContext
    content: WebBroadcastContent
    fixed_fields: list[bytes]
    body_head: bytes  # MIME preamble and text part header, and the fixed text's whole base64 lines
    text_tail: bytes  # the rest of the fixed text (< 57 bytes), encoded with each footer
    footer_pieces: list[bytes]  # the footer (UTF-8) split where the recipient's token goes
    body_tail: bytes  # after the text: the attachments and the closing boundary
    body_hash_state: object | None  # SHA-256 over body_head, when the fixed parts are canonical already
    signer: DkimSigner | None
    signer_parts: tuple
    wire_prefix: bytes  # fixed fields, blank line and body_head, dot-stuffed
    wire_suffix: bytes  # body_tail dot-stuffed, and the terminating "."

    @classmethod
    def from_broadcast(cls, broadcast: Broadcast, context: ListContext) -> WebBroadcastRenderer:
        return cls.from_content(web_broadcast_content(broadcast), context, started_at=broadcast.started_at)

    @classmethod
    def from_content(
        cls, content: WebBroadcastContent, context: ListContext, *, started_at=None
    ) -> WebBroadcastRenderer:
        domain = context.domain
        post_address = list_address(context.local_part, domain)
        boundary = f"=_web{content.broadcast_id}_{hashlib.sha256(content.subject.encode()).hexdigest()[:12]}"
        fields = [
            mailbox_field("From", context.name, post_address),
            unstructured_encode("Subject", content.subject),
            raw_field("Date", format_datetime(started_at or timezone.now())),
            # The same Message-ID in every copy and from every worker process (RFC 5322 §3.6.4: one message).
            raw_field("Message-ID", f"<web-{content.broadcast_id}.{int(content.created_at.timestamp())}@{domain}>"),
            raw_field("MIME-Version", "1.0"),
        ]
        text_part_header = b'Content-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: base64\r\n'
        if content.attachments:
            fields.append(raw_field("Content-Type", f'multipart/mixed; boundary="{boundary}"'))
            preamble = b"This is a multi-part message in MIME format.\r\n\r\n"
            head = preamble + f"--{boundary}\r\n".encode() + text_part_header + b"\r\n"
            tail = b"".join(
                f"--{boundary}\r\n".encode()
                + _attachment_part(a.filename, a.content_type, a.data).rstrip(b"\r\n")
                + b"\r\n"
                for a in content.attachments
            )
            tail += f"--{boundary}--\r\n".encode()
        else:
            fields.append(raw_field("Content-Type", 'text/plain; charset="UTF-8"'))
            fields.append(raw_field("Content-Transfer-Encoding", "base64"))
            head, tail = b"", b""
        fields += [
            list_id_field(context.name, f"{context.local_part}.{domain}"),  # RFC 2919
            raw_field("List-Post", f"<mailto:{post_address}>"),
            raw_field("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),  # RFC 8058 §3.1
            raw_field("Precedence", "list"),
            raw_field("X-Loop", post_address),
        ]
        text = body_text_normalized(content.body_text).encode("utf-8")
        whole = len(text) - len(text) % _B64_GROUP
        head += _b64_lines(text[:whole])
        footer = footer_text(content, domain=domain, token=TOKEN_MARK).encode("utf-8")
        pieces = footer.split(TOKEN_MARK.encode("utf-8"))

        canonical = all(body_canonicalize_relaxed(piece) == piece for piece in (head, tail) if piece)
        state = hashlib.sha256(head) if canonical else None
        signer = None
        parts: tuple = ()
        if context.dkim_private_key and settings.OUTBOUND_DKIM_MODE == "per_recipient":
            present = {f.split(b":", 1)[0].strip().lower().decode() for f in fields} | set(PERSONAL_FIELDS)
            signer = DkimSigner(
                domain=domain,
                selector=context.dkim_selector,
                private_pem=context.dkim_private_key,
                signed_header_names=tuple(name for name in _SIGNED if name in present),
                body_hash_b64="",
                timestamp=int(time.time()),
            )
            parts = signer.prepared(fields, PERSONAL_FIELDS).parts
        return cls(
            context=context,
            content=content,
            fixed_fields=fields,
            body_head=head,
            text_tail=text[whole:],
            footer_pieces=pieces,
            body_tail=tail,
            body_hash_state=state,
            signer=signer,
            signer_parts=parts,
            wire_prefix=dot_stuffed(b"".join(fields) + b"\r\n" + head),
            wire_suffix=dot_stuffed(tail) + b".\r\n",
        )

    def personal_text(self, token: str) -> bytes:
        return _b64_lines(self.text_tail + token.encode("ascii").join(self.footer_pieces))

    def render(self, recipient: Recipient) -> RenderedMessage:
        domain = self.context.domain
        personal_body = self.personal_text(recipient.token)
        personal = [
            mailbox_field("To", recipient.name, recipient.address),
            _list_unsubscribe_field(unsubscribe_link(domain=domain, token=recipient.token)),
        ]
        signature = b""
        if self.signer is not None:
            if self.body_hash_state is not None:
                digest = self.body_hash_state.copy()
                digest.update(personal_body)
                digest.update(self.body_tail)
            else:
                digest = hashlib.sha256(body_canonicalize_relaxed(self.body_head + personal_body + self.body_tail))
            signer = dataclasses.replace(self.signer, body_hash_b64=base64.b64encode(digest.digest()).decode())
            signature = PreparedSigner(signer=signer, parts=self.signer_parts).sign(personal)
        head = b"".join((signature, *personal))
        data = head + b"".join(self.fixed_fields) + b"\r\n" + self.body_head + personal_body + self.body_tail
        return RenderedMessage(
            envelope_from=bounce_address(self.context.local_part, domain, recipient.token),
            envelope_to=address_wire_form(recipient.address),
            data=data,
            wire=head + self.wire_prefix + personal_body + self.wire_suffix,
        )
