"""Factories for test data: small functions with unique defaults, so tests never collide."""

from __future__ import annotations

import itertools

from mailing.models import ListAdmin, MailingList, Member, Sender, address_normalize

_sequence = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_sequence)}"


def mailing_list_make(*, local_part: str | None = None, name: str | None = None, **fields) -> MailingList:
    local_part = local_part or unique("list")
    return MailingList.objects.create(local_part=local_part, name=name or local_part.title(), **fields)


def member_make(mailing_list: MailingList, *, address: str | None = None, **fields) -> Member:
    address = address or f"{unique('member')}@example.org"
    return Member.objects.create(
        mailing_list=mailing_list, address=address, address_normalized=address_normalize(address), **fields
    )


def sender_make(mailing_list: MailingList, *, address: str | None = None, **fields) -> Sender:
    address = address or f"{unique('sender')}@example.org"
    return Sender.objects.create(
        mailing_list=mailing_list, address=address, address_normalized=address_normalize(address), **fields
    )


def list_admin_make(mailing_list: MailingList, user) -> ListAdmin:
    return ListAdmin.objects.create(mailing_list=mailing_list, user=user)
