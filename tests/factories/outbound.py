"""Factories for the outbound path: posts as the MX stores them, and broadcasts made from them."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from mailing.models import Broadcast, InboundMessage, MailingList
from mailing.services.broadcasts import broadcast_create_for_mail

EMAIL_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"


def eml(name: str) -> bytes:
    return (EMAIL_FIXTURES / name).read_bytes()


def inbound_post_make(mailing_list: MailingList, *, raw: bytes, envelope_from: str = "taro@sender.example"):
    return InboundMessage.objects.create(
        kind=InboundMessage.Kind.POST,
        mailing_list=mailing_list,
        envelope_from=envelope_from,
        envelope_to=f"{mailing_list.local_part}@test.localhost",
        raw=raw,
        size=len(raw),
        state=InboundMessage.State.DISTRIBUTED,
    )


def mail_broadcast_make(
    mailing_list: MailingList, *, raw: bytes, author_address: str = "taro@sender.example", rewrite_from: bool = False
) -> Broadcast:
    """What inbound processing does for a post it distributes: one transaction, enqueue on commit."""
    with transaction.atomic():
        inbound = inbound_post_make(mailing_list, raw=raw, envelope_from=author_address)
        return broadcast_create_for_mail(
            inbound_message=inbound, author_address=author_address, rewrite_from=rewrite_from
        )
