"""Reads of deliveries: a recipient's links find their delivery by its token."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from mailing.models import Broadcast, Delivery, MailingList

# Tokens are base64url, 22 characters today; anything else cannot be one and is answered like an
# unknown token (no hint that a token exists or what shape it has).
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


def delivery_get_by_token(*, token: str) -> Delivery | None:
    if not TOKEN_SHAPE.match(token):
        return None
    return Delivery.objects.select_related("member", "broadcast__mailing_list").filter(token=token).first()


def broadcasts_with_failures(*, mailing_list: MailingList, days: int = 30) -> QuerySet[Broadcast]:
    """The list's recent broadcasts whose copies (all or some) could not be made, newest first."""
    since = timezone.now() - timedelta(days=days)
    return (
        Broadcast.objects.filter(mailing_list=mailing_list, created_at__gte=since)
        .exclude(failure_reason="")
        .order_by("-created_at")[:20]
    )
