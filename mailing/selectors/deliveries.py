"""Reads of deliveries: a recipient's links find their delivery by its token."""

from __future__ import annotations

import re

from mailing.models import Delivery

# Tokens are base64url, 24 characters today (22 before web broadcasts: still valid); anything else
# cannot be one and is answered like an unknown token (no hint that a token exists or what shape it has).
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


def delivery_get_by_token(*, token: str) -> Delivery | None:
    if not TOKEN_SHAPE.match(token):
        return None
    return Delivery.objects.select_related("member", "broadcast__mailing_list").filter(token=token).first()
