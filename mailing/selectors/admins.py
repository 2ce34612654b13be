"""Reads of the people who run a list: where its notices to admins go, and in which language."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from mailing.models import ListAdmin, MailingList


@dataclass(frozen=True)
class NoticeRecipient:
    address: str
    language: str  # the person's console language; "" when they never chose one (the organization's applies)


def list_admin_recipients(mailing_list: MailingList) -> list[NoticeRecipient]:
    """The list's admins; the organization's owners when the list has none. One entry per address."""
    rows = list(
        ListAdmin.objects.filter(mailing_list=mailing_list, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", "user__profile__language")
    )
    if not rows:
        rows = list(
            get_user_model()
            .objects.filter(profile__is_owner=True, is_active=True)
            .exclude(email="")
            .values_list("email", "profile__language")
        )
    by_address: dict[str, str] = {}
    for address, language in rows:
        by_address.setdefault(address.lower(), NoticeRecipient(address=address, language=language or ""))
    return sorted(by_address.values(), key=lambda recipient: recipient.address.lower())
