"""Which renderer a broadcast gets, and the renderers prepared once per broadcast per worker process.

`RENDERERS` maps a broadcast's channel to the factory that prepares its renderer; `renderer_cache`
keeps the last few broadcasts' prepared renderers, so every batch of a fan-out reuses the parse of
the original and its body hash instead of redoing them (docs/adr/0002, decision 3).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.db import connection

from mailing.models import Broadcast
from mailing.rendering import BroadcastRenderer, ListContext, RendererFactory
from mailing.rendering.mail_post import MailPostRenderer
from mailing.rendering.web_broadcast import WebBroadcastRenderer

RENDERERS: dict[str, RendererFactory] = {
    Broadcast.Channel.MAIL: MailPostRenderer.from_broadcast,
    Broadcast.Channel.WEB: WebBroadcastRenderer.from_broadcast,  # composed in the console (docs/adr/0005)
}


def renderer_build(broadcast: Broadcast, context: ListContext) -> BroadcastRenderer:
    try:
        factory = RENDERERS[broadcast.channel]
    except KeyError:
        raise NotImplementedError(f"no renderer for {broadcast.channel!r} broadcasts yet") from None
    return factory(broadcast, context)


def broadcast_list_context(broadcast: Broadcast) -> ListContext:
    """The list and domain facts a renderer needs, for a broadcast of the current organization."""
    mailing_list = broadcast.mailing_list
    domain = connection.tenant.get_primary_domain()
    return ListContext(
        local_part=mailing_list.local_part,
        name=mailing_list.name,
        subject_tag=mailing_list.subject_tag,
        domain=domain.domain,
        dkim_selector=domain.dkim_selector,
        dkim_private_key=domain.dkim_private_key,
    )


class RendererCache:
    """The last few broadcasts' prepared renderers: a batch reuses the parse and the body hash."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[str, int], BroadcastRenderer] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, broadcast: Broadcast) -> BroadcastRenderer:
        key = (connection.schema_name, broadcast.id)
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        renderer = renderer_build(broadcast, broadcast_list_context(broadcast))
        with self.lock:
            self.entries[key] = renderer
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return renderer

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


renderer_cache = RendererCache()
