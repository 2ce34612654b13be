"""Scheduled broadcasts (F11): the scheduler's tick starts those whose time has come.

Scheduled broadcasts are rows in PostgreSQL (state SCHEDULED, `scheduled_at`), indexed in the public
schema (tenants.models.ScheduledBroadcast) so that the tick finds what is due with one query, not a
visit to every organization's schema. Only the active scheduler runs the tick (its advisory lock,
saas_platform.scheduler); each start also locks the broadcast's row and checks that it is still
SCHEDULED and due, so a broadcast is started once even if two ticks ever overlap, a cancelled one
never, and a re-timed one only at its new time. Nothing lives in the broker until the broadcast
starts: a restart of any process loses nothing, and one that came due while everything was down is
started by the next tick and marked late.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from mailing.models import Broadcast, WebBroadcast
from mailing.services.broadcasts import broadcast_deliveries_plan
from tenants.scheduled_broadcasts import (
    scheduled_broadcast_index_clear,
    scheduled_broadcast_index_set,
    scheduled_broadcasts_due,
)

logger = logging.getLogger(__name__)


@transaction.atomic
def broadcast_scheduled_start(*, broadcast_id: int) -> bool:
    """Start one scheduled broadcast if it is still scheduled and due; True if it was started now."""
    schema_name = connection.schema_name
    broadcast = Broadcast.objects.select_for_update().filter(id=broadcast_id).first()
    if broadcast is None or broadcast.state != Broadcast.State.SCHEDULED or broadcast.scheduled_at is None:
        scheduled_broadcast_index_clear(schema_name=schema_name, broadcast_id=broadcast_id)
        return False
    now = timezone.now()
    if broadcast.scheduled_at > now:  # re-timed: the index follows the broadcast
        scheduled_broadcast_index_set(schema_name=schema_name, broadcast_id=broadcast_id, due_at=broadcast.scheduled_at)
        return False
    scheduled_broadcast_index_clear(schema_name=schema_name, broadcast_id=broadcast_id)
    late = (now - broadcast.scheduled_at).total_seconds()
    if late > settings.BROADCAST_LATE_AFTER_SECONDS:
        WebBroadcast.objects.filter(broadcast_id=broadcast_id).update(late_seconds=int(late))
        logger.warning("scheduled broadcast started late", extra={"broadcast": broadcast_id, "seconds": int(late)})
    broadcast.state = Broadcast.State.SENDING
    broadcast.save(update_fields=["state"])
    broadcast_deliveries_plan(broadcast=broadcast)
    return True


def scheduled_broadcasts_start_due() -> int:
    """Scheduler job (settings.SCHEDULER_JOBS, every BROADCAST_SCHEDULE_TICK_SECONDS): start every
    scheduled broadcast whose time has come, the most overdue first. Returns how many started."""
    started = 0
    for schema_name, broadcast_id in scheduled_broadcasts_due(now=timezone.now()):
        try:
            with schema_context(schema_name):
                started += broadcast_scheduled_start(broadcast_id=broadcast_id)
        except Exception:  # one organization's failure must not hold back the others' broadcasts
            logger.exception(
                "scheduled broadcast could not start", extra={"schema": schema_name, "broadcast": broadcast_id}
            )
    return started
