"""Writes and reads of the public index of scheduled broadcasts (tenants.models.ScheduledBroadcast).

Called inside the tenant transaction that schedules, re-times, cancels or starts the broadcast, so
the index and the broadcast change together. The scheduler's tick reads what is due from here.
"""

from __future__ import annotations

from datetime import datetime

from tenants.models import ScheduledBroadcast


def scheduled_broadcast_index_set(*, schema_name: str, broadcast_id: int, due_at: datetime) -> None:
    ScheduledBroadcast.objects.update_or_create(
        schema_name=schema_name, broadcast_id=broadcast_id, defaults={"due_at": due_at}
    )


def scheduled_broadcast_index_clear(*, schema_name: str, broadcast_id: int) -> None:
    ScheduledBroadcast.objects.filter(schema_name=schema_name, broadcast_id=broadcast_id).delete()


def scheduled_broadcasts_due(*, now: datetime, limit: int = 100) -> list[tuple[str, int]]:
    """(schema name, broadcast id) of the broadcasts due by `now`, the most overdue first."""
    rows = (
        ScheduledBroadcast.objects.filter(due_at__lte=now).order_by("due_at").values_list("schema_name", "broadcast_id")
    )
    return list(rows[:limit])


def scheduled_broadcast_next_due() -> datetime | None:
    return ScheduledBroadcast.objects.order_by("due_at").values_list("due_at", flat=True).first()
