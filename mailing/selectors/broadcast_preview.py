"""The preview of a web broadcast: the very message one recipient will get, rendered by the renderer
the workers use (mailing.rendering.web_broadcast) and read back as a mail program shows it."""

from __future__ import annotations

import email
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header

from django.db import connection

from mailing.models import Broadcast, Member
from mailing.rendering import ListContext, Recipient
from mailing.rendering.web_broadcast import WebBroadcastRenderer

PREVIEW_TOKEN = "PREVIEW"  # noqa: S105 -- not a token's shape: the preview's links lead to the "not valid" page
SAMPLE_ADDRESS = "recipient@example.jp"


@dataclass(frozen=True)
class PreviewMessage:
    sender: str
    to: str
    subject: str
    text: str
    attachments: list[tuple[str, int]]
    size: int  # bytes of one copy


def _list_context(broadcast: Broadcast) -> ListContext:
    domain = connection.tenant.get_primary_domain()
    mailing_list = broadcast.mailing_list
    return ListContext(
        local_part=mailing_list.local_part,
        name=mailing_list.name,
        subject_tag=mailing_list.subject_tag,
        domain=domain.domain,
        dkim_selector=domain.dkim_selector,
        dkim_private_key="",  # the preview is not signed (and needs no key)
    )


def _phrase(raw) -> str:
    return str(make_header(decode_header(str(raw or ""))))


def broadcast_preview_render(broadcast: Broadcast, recipient: Member | None) -> PreviewMessage:
    renderer = WebBroadcastRenderer.from_broadcast(broadcast, _list_context(broadcast))
    address = recipient.address if recipient else SAMPLE_ADDRESS
    rendered = renderer.render(
        Recipient(address=address, name=recipient.name if recipient else "", token=PREVIEW_TOKEN)
    )
    legacy = email.message_from_bytes(rendered.data, policy=policy.compat32)
    message = email.message_from_bytes(rendered.data, policy=policy.default)
    body = message.get_body(("plain",))
    text = body.get_content().replace("\r\n", "\n") if body is not None else ""
    attachments = [(part.get_filename() or "", len(part.get_content())) for part in message.iter_attachments()]
    return PreviewMessage(
        sender=_phrase(legacy["From"]),
        to=_phrase(legacy["To"]),
        subject=str(message["Subject"]),
        text=text,
        attachments=attachments,
        size=len(rendered.data),
    )
