"""Actors of the outbound path: planning the rest of a fan-out, its batches, retries of deferred deliveries."""

from __future__ import annotations

import dramatiq

from mailing.services import broadcasts, delivery_batches
from tenants.jobs import tenant_context

# A batch of FANOUT_BATCH_SIZE copies takes well under a second against a healthy relay; the limit
# allows for a relay that answers at its 30 s command timeout. Deliveries already SENT are skipped
# when a batch runs again, so dramatiq's retries (and redelivery after a worker died) are safe.
BATCH_TIME_LIMIT_MS = 30 * 60 * 1000


@dramatiq.actor(queue_name="delivery", max_retries=10, min_backoff=5_000, time_limit=BATCH_TIME_LIMIT_MS)
def delivery_batch_send(schema_name: str, broadcast_id: int, batch_index: int) -> None:
    with tenant_context(schema_name):
        delivery_batches.delivery_batch_send(broadcast_id=broadcast_id, batch_index=batch_index)


@dramatiq.actor(queue_name="fanout_plan", max_retries=10, min_backoff=1_000, time_limit=10 * 60 * 1000)
def broadcast_plan_rest(schema_name: str, broadcast_id: int) -> None:
    with tenant_context(schema_name):
        broadcasts.broadcast_plan_rest(broadcast_id=broadcast_id)


@dramatiq.actor(queue_name="delivery", max_retries=3, min_backoff=5_000, time_limit=BATCH_TIME_LIMIT_MS)
def delivery_retry_send(schema_name: str, broadcast_id: int) -> None:
    with tenant_context(schema_name):
        delivery_batches.delivery_retry_send(broadcast_id=broadcast_id)
