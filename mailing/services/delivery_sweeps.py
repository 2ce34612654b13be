"""The scheduler's delivery sweep: retries that are due, batches whose chain was lost, plans whose job was lost.

Every job of a fan-out is enqueued after a commit, and a commit can succeed while the enqueue fails
(Redis down) or a worker can die holding a job. Nothing is lost for good: this sweep, run by the
scheduler every minute (settings.SCHEDULER_JOBS), finds such work from the rows alone and enqueues
it again; the batch locks and the SENT marks make any overlap with a run still going harmless
(docs/adr/0002, decision 6).
"""

from __future__ import annotations

import bisect
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from mailing.models import Broadcast, Delivery
from tenants.jobs import job_send_on_commit
from tenants.services import organization_sweep_extend, organizations_to_sweep


def deliveries_retry_enqueue_due_in_schema(*, schema_name: str) -> int:
    """Enqueue retries of due deferred deliveries, and batches whose queued deliveries stalled
    (their enqueue was lost, e.g. Redis was down at commit). Returns the number of jobs enqueued."""
    now = timezone.now()
    enqueued = 0
    due = (
        Delivery.objects.filter(status=Delivery.Status.DEFERRED, next_attempt_at__lte=now)
        .values_list("broadcast_id", flat=True)
        .distinct()
    )
    for broadcast_id in due:
        job_send_on_commit("delivery_retry_send", schema_name, broadcast_id)
        enqueued += 1
    # Step 2 of a plan whose job was lost (the broker was down at commit, or a worker died in it).
    plan_stalled_before = now - timedelta(seconds=settings.FANOUT_PLAN_STALL_SECONDS)
    unplanned = Broadcast.objects.filter(
        state=Broadcast.State.SENDING, plan_resume_member_id__isnull=False, started_at__lt=plan_stalled_before
    ).values_list("id", flat=True)
    for broadcast_id in unplanned:
        job_send_on_commit("broadcast_plan_rest", schema_name, broadcast_id)
        enqueued += 1
    # Stalled: a sending broadcast with queued deliveries none of whose deliveries changed for
    # FANOUT_STALL_SECONDS. (A queued delivery of a long fan-out may wait its turn for longer; the
    # broadcast as a whole is then still making progress.) Its queued batches are enqueued again; the
    # batch locks and the SENT marks make any overlap with a still-running chain harmless.
    stalled_before = now - timedelta(seconds=settings.FANOUT_STALL_SECONDS)
    sending = Broadcast.objects.filter(state=Broadcast.State.SENDING, started_at__lt=stalled_before)
    for broadcast in sending.only("id", "batch_bounds"):
        deliveries = Delivery.objects.filter(broadcast_id=broadcast.id)
        if deliveries.filter(updated_at__gte=stalled_before).exists():
            continue
        queued = deliveries.filter(status=Delivery.Status.QUEUED).values_list("id", flat=True)
        batches = {bisect.bisect_right(broadcast.batch_bounds, delivery_id) - 1 for delivery_id in queued.iterator()}
        for batch_index in sorted(index for index in batches if index >= 0):
            job_send_on_commit("delivery_batch_send", schema_name, broadcast.id, batch_index)
            enqueued += 1
    return enqueued


def deliveries_retry_enqueue_due() -> int:
    """Scheduler job (settings.SCHEDULER_JOBS): retries, stalled batches and unfinished plans of the
    organizations in the sweep register (tenants.services.organizations_to_sweep: those with a
    broadcast lately, not every schema); one with a broadcast still sending stays in it."""
    enqueued = 0
    for schema_name in organizations_to_sweep():
        with schema_context(schema_name):
            enqueued += deliveries_retry_enqueue_due_in_schema(schema_name=schema_name)
            if Broadcast.objects.filter(state=Broadcast.State.SENDING).exists():
                organization_sweep_extend(schema_name=schema_name)
    return enqueued
