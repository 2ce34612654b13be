"""Turning a broadcast into each recipient's own message: the types every renderer shares.

A renderer is prepared once per broadcast (and cached per worker process: parsing the original and
hashing its body are done once, not per recipient) and then asked for one message per recipient.
Renderers are chosen by the broadcast's channel in `mailing.rendering.registry.RENDERERS`; a web
broadcast (composed in the console, with per-recipient read-confirmation and survey links in its
body) registers its own there. This module holds only the types, so a renderer module imports it
without importing the registry that imports the renderers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mailing.models import Broadcast


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str
    token: str  # the delivery's token: VERP return path and the recipient's links


@dataclass(frozen=True)
class RenderedMessage:
    envelope_from: str
    envelope_to: str  # in wire form (quoted local part where needed)
    data: bytes  # CRLF line endings
    # `data` as SMTP DATA carries it (dot-stuffed, ending with the "." line), when the renderer made it
    # from parts it prepared once per broadcast; None: the sender derives it (mailing.smtp.data_terminated).
    wire: bytes | None = None


class BroadcastRenderer(Protocol):
    def render(self, recipient: Recipient) -> RenderedMessage: ...


@dataclass(frozen=True)
class ListContext:
    """What every renderer needs to know about the list and its organization's domain."""

    local_part: str
    name: str
    subject_tag: str
    domain: str
    dkim_selector: str
    dkim_private_key: str  # PEM; "" disables signing


RendererFactory = Callable[[Broadcast, ListContext], BroadcastRenderer]
