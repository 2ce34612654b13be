"""Reads of deliveries: a recipient's links find their delivery by its token; a fan-out asks what a batch has left."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from mailing.models import Delivery

# Tokens are base64url, 24 characters today (22 before web broadcasts: still valid); anything else
# cannot be one and is answered like an unknown token (no hint that a token exists or what shape it has).
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


def delivery_get_by_token(*, token: str) -> Delivery | None:
    if not TOKEN_SHAPE.match(token):
        return None
    return Delivery.objects.select_related("member", "broadcast__mailing_list").filter(token=token).first()


@dataclass(frozen=True)
class PendingDelivery:
    """What sending one copy needs of its delivery row."""

    id: int
    address: str
    token: str
    name: str
    attempts: int


def _batch_queued(broadcast_id: int, bounds: list[int], batch_index: int) -> QuerySet[Delivery]:
    return Delivery.objects.filter(
        broadcast_id=broadcast_id,
        id__gte=bounds[batch_index],
        id__lt=bounds[batch_index + 1],
        status=Delivery.Status.QUEUED,
    )


def _pending(queryset: QuerySet[Delivery]) -> list[PendingDelivery]:
    rows = queryset.order_by("id").values_list("id", "address", "token", "member__name", "attempts")
    return [PendingDelivery(id=i, address=a, token=t, name=n or "", attempts=k) for i, a, t, n, k in rows]


def batch_has_queued(broadcast_id: int, bounds: list[int], batch_index: int) -> bool:
    """Whether batch `batch_index` of a fan-out plan (Broadcast.batch_bounds) still has queued deliveries."""
    return _batch_queued(broadcast_id, bounds, batch_index).exists()


def batch_pending(broadcast_id: int, bounds: list[int], batch_index: int) -> list[PendingDelivery]:
    """The queued deliveries of one batch of the plan, in id order."""
    return _pending(_batch_queued(broadcast_id, bounds, batch_index))


def retries_due(broadcast_id: int) -> list[PendingDelivery]:
    """A broadcast's deferred deliveries whose next attempt is due, in id order."""
    return _pending(
        Delivery.objects.filter(
            broadcast_id=broadcast_id, status=Delivery.Status.DEFERRED, next_attempt_at__lte=timezone.now()
        )
    )
