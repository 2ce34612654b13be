"""RFC 8058 one-click unsubscribe: the recipient of a copy leaves the list it came from."""

from __future__ import annotations

from django.db import transaction

from mailing.models import Delivery
from mailing.services.members import member_remove


@transaction.atomic
def member_unsubscribe_by_delivery(*, delivery: Delivery) -> bool:
    """Remove the member a delivery went to; False if they had already left (a repeated POST)."""
    if delivery.member_id is None:
        return False
    member = delivery.member
    member_remove(member=member)
    return True
