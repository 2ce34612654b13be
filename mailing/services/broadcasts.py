"""Writes for broadcasts: one distribution of content to a list's active members (F1, F7, F8).

A broadcast gets one Delivery row per active member, made by INSERT ... SELECT, and a fan-out plan
(`batch_bounds`), in two steps so that the first copies do not wait for the whole list's rows
(docs/adr/0002-fanout-and-delivery.md, "Planning"):
1. in the caller's transaction (inbound processing, or later the console), the deliveries of the
   first FANOUT_WINDOW batches; after commit those batches are enqueued, and
2. a `broadcast_plan_rest` job makes the rest, FANOUT_PLAN_CHUNK per transaction, appending each
   chunk's batches to the plan as it commits.
Each batch enqueues the batch FANOUT_WINDOW places later (`_chain_resume` covers batches that ended
before their successor was planned). A lost step 2 (crash, broker down) is found
by the retry job (`plan_resume_member_id` still set) and run again; it is idempotent.
"""

from __future__ import annotations

import functools
import logging
from email import policy
from email.parser import BytesHeaderParser

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mailing.models import Broadcast, Delivery, InboundMessage, Member
from mailing.rendering.headers import text_clean
from mailing.selectors.admins import list_admin_recipients
from mailing.selectors.deliveries import batch_has_queued
from mailing.services.broadcast_recipients import recipients_condition
from mailing.services.notices import notice_language, notice_queue
from tenants.jobs import job_send, job_send_on_commit
from tenants.services import organization_sweep_extend

logger = logging.getLogger(__name__)

# 18 bytes, 138 of their bits random (a version-4 UUID from PostgreSQL's strong random source, 122
# random bits, and the first two bytes of another, which are all random): a token is a credential
# for the recipient's read-confirmation and survey links and must have at least 128 random bits.
# base64url without padding: 24 characters, fits Delivery.token and the VERP local part.
_DELIVERIES_CREATE_SQL = f"""
    INSERT INTO {Delivery._meta.db_table}
        (broadcast_id, member_id, address, token, status, attempts, last_response, updated_at)
    SELECT %s, m.id, m.address,
           translate(encode(uuid_send(gen_random_uuid())
                            || substring(uuid_send(gen_random_uuid()) from 1 for 2), 'base64'), '+/=', '-_'),
           %s, 0, '', now()
      FROM {Member._meta.db_table} m
     WHERE {{recipients}} AND m.status = %s AND m.id > %s
     ORDER BY m.id
     LIMIT %s
    RETURNING id, member_id
"""


def subject_of(raw: bytes) -> str:
    """The decoded Subject of a raw message; "" when it has none or it cannot be read."""
    try:
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        value = BytesHeaderParser(policy=policy.default).parsebytes(head + b"\r\n\r\n").get("subject", "")
        return text_clean(str(value or ""), max_length=998)
    except Exception:  # a malformed header must not stop distribution
        logger.warning("unreadable subject", exc_info=True)
        return ""


def _deliveries_create(broadcast: Broadcast, *, after_member_id: int, limit: int | None) -> tuple[list[int], int]:
    """Deliveries for the active members with id > after_member_id (at most `limit`, in member order):
    (their ids, sorted; the greatest member id among them, or after_member_id if none)."""
    recipients, recipient_params = recipients_condition(broadcast)
    with connection.cursor() as cursor:
        cursor.execute(
            _DELIVERIES_CREATE_SQL.format(recipients=recipients),
            [
                broadcast.id,
                Delivery.Status.QUEUED,
                *recipient_params,
                Member.Status.ACTIVE,
                after_member_id,
                limit,  # NULL: no limit
            ],
        )
        rows = cursor.fetchall()
    return sorted(row[0] for row in rows), max((row[1] for row in rows), default=after_member_id)


def _fanout_plan(delivery_ids: list[int], batch_size: int) -> list[int]:
    if not delivery_ids:
        return []
    return [*delivery_ids[::batch_size], delivery_ids[-1] + 1]


@transaction.atomic
def broadcast_deliveries_plan(*, broadcast: Broadcast) -> Broadcast:
    """Step 1: the deliveries of the first FANOUT_WINDOW batches and their plan; after commit those
    batches are enqueued, and step 2 (`broadcast_plan_rest`) when the list has more active members."""
    head = settings.FANOUT_WINDOW * settings.FANOUT_BATCH_SIZE
    organization_sweep_extend(schema_name=connection.schema_name)  # the retry job looks here
    delivery_ids, last_member_id = _deliveries_create(broadcast, after_member_id=0, limit=head)
    broadcast.batch_bounds = _fanout_plan(delivery_ids, settings.FANOUT_BATCH_SIZE)
    broadcast.recipient_count = len(delivery_ids)
    broadcast.plan_resume_member_id = last_member_id if len(delivery_ids) == head else None
    broadcast.started_at = timezone.now()
    if not delivery_ids:
        broadcast.state = Broadcast.State.SENT
        broadcast.finished_at = broadcast.started_at
    broadcast.save(
        update_fields=[
            "batch_bounds",
            "recipient_count",
            "plan_resume_member_id",
            "started_at",
            "state",
            "finished_at",
        ]
    )
    if delivery_ids:
        # Step 2 first, when there is one (its own queue: it does not wait behind batches), then the
        # first FANOUT_WINDOW batches; each batch enqueues its successor.
        schema_name = connection.schema_name
        if broadcast.plan_resume_member_id is not None:
            job_send_on_commit("broadcast_plan_rest", schema_name, broadcast.id)
        for batch_index in range(min(settings.FANOUT_WINDOW, len(broadcast.batch_bounds) - 1)):
            job_send_on_commit("delivery_batch_send", schema_name, broadcast.id, batch_index)
    return broadcast


def broadcast_plan_rest(*, broadcast_id: int) -> int:
    """Step 2: deliveries for the remaining active members, FANOUT_PLAN_CHUNK at a time, each chunk
    appended to the plan and committed on its own (a 100,000-member list's second window does not
    wait for 99,200 rows). Returns the number of deliveries made."""
    made = 0
    while (chunk := _plan_chunk(broadcast_id)) is not None:
        made += chunk
    broadcast_finish_if_done(broadcast_id=broadcast_id)  # every batch may have ended before the plan did
    return made


def _plan_chunk(broadcast_id: int) -> int | None:
    """One chunk of step 2 in its own transaction; None when there is nothing (left) to plan."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().filter(id=broadcast_id).first()
        if broadcast is None or broadcast.plan_resume_member_id is None or broadcast.state != Broadcast.State.SENDING:
            return None
        chunk = settings.FANOUT_PLAN_CHUNK
        delivery_ids, last_member_id = _deliveries_create(
            broadcast, after_member_id=broadcast.plan_resume_member_id, limit=chunk
        )
        first_new = len(broadcast.batch_bounds) - 1
        if delivery_ids:
            # New ids are greater than every id planned before (one sequence): the plan continues
            # from the old end bound, which becomes the start of the first new batch.
            broadcast.batch_bounds = broadcast.batch_bounds + _fanout_plan(delivery_ids, settings.FANOUT_BATCH_SIZE)[1:]
        broadcast.recipient_count += len(delivery_ids)
        broadcast.plan_resume_member_id = last_member_id if len(delivery_ids) == chunk else None
        broadcast.save(update_fields=["batch_bounds", "recipient_count", "plan_resume_member_id"])
        if delivery_ids:
            schema_name = connection.schema_name
            bounds = list(broadcast.batch_bounds)
            transaction.on_commit(functools.partial(_chain_resume, schema_name, broadcast_id, bounds, first_new))
    return len(delivery_ids)


def _chain_resume(schema_name: str, broadcast_id: int, bounds: list[int], first_new: int) -> None:
    """Enqueue the first new batches whose predecessor (FANOUT_WINDOW places earlier) has finished:
    it ended before this chunk existed and could not enqueue them. A predecessor still queued or
    running enqueues its successor itself, when it starts or, having started before this chunk,
    when it ends (it looks at the plan again; its marks are flushed first, so one of the two always
    sees the other). A successor enqueued by both runs once (batch lock; a run that finds its batch
    sent enqueues nothing)."""
    window = settings.FANOUT_WINDOW
    for batch_index in range(first_new, min(first_new + window, len(bounds) - 1)):
        predecessor = batch_index - window
        if predecessor < 0 or not batch_has_queued(broadcast_id, bounds, predecessor):
            job_send("delivery_batch_send", schema_name, broadcast_id, batch_index)


@transaction.atomic
def broadcast_create_for_mail(*, inbound_message: InboundMessage, author_address: str, rewrite_from: bool) -> Broadcast:
    """Distribute a post that arrived by mail (called by inbound processing, inside its transaction).

    The original stays in `inbound_message.raw`; each recipient's copy is rendered from it by the
    delivery batches. `rewrite_from`: the author's domain publishes DMARC p=quarantine/reject, so
    copies come From the list address ("Taro via All") with the author in Reply-To.
    """
    if inbound_message.mailing_list_id is None:
        raise ValueError("an inbound message without a list cannot be distributed")
    broadcast = Broadcast.objects.create(
        mailing_list_id=inbound_message.mailing_list_id,
        channel=Broadcast.Channel.MAIL,
        inbound_message=inbound_message,
        author_address=author_address[:254],
        subject=subject_of(bytes(inbound_message.raw)),
        state=Broadcast.State.SENDING,
        rewrite_from=rewrite_from,
    )
    return broadcast_deliveries_plan(broadcast=broadcast)


def broadcast_finish_if_done(*, broadcast_id: int) -> bool:
    """Mark the broadcast SENT once no delivery is still queued or deferred; True if it is (now) done."""
    final_states = (Delivery.Status.QUEUED, Delivery.Status.DEFERRED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Broadcast._meta.db_table} SET state = %s, finished_at = now()
             WHERE id = %s AND state = %s AND plan_resume_member_id IS NULL
               AND NOT EXISTS (SELECT 1 FROM {Delivery._meta.db_table}
                                WHERE broadcast_id = %s AND status IN (%s, %s))
            """,
            [Broadcast.State.SENT, broadcast_id, Broadcast.State.SENDING, broadcast_id, *final_states],
        )
        return cursor.rowcount == 1


# --- Copies that cannot be made ---------------------------------------------------------------------
# A renderer that raises (a bug, or data no renderer can put in a header) would fail every batch, and
# dramatiq plus the stall sweeper would retry it for ever. Mailman's shunt queue: stop, keep, say why.


def _failure_notices(broadcast: Broadcast, reason: str, *, none_sent: bool) -> None:
    subject_text = broadcast.subject or _("(no subject)")
    for recipient in list_admin_recipients(broadcast.mailing_list):
        with translation.override(recipient.language or notice_language()):
            if none_sent:
                subject = _("Not distributed: %(subject)s") % {"subject": subject_text}
                what = _("The post could not be prepared for its members, so it was not sent to anybody.")
            else:
                subject = _("Some members did not get: %(subject)s") % {"subject": subject_text}
                what = _("The copies for some members could not be prepared; they were not sent those.")
            body = _(
                "%(what)s\n\nList: %(list)s\nSubject: %(subject)s\n\n"
                "Please tell the platform's support; the post is kept.\n\nTechnical detail: %(reason)s\n"
            ) % {"what": what, "list": broadcast.mailing_list.name, "subject": subject_text, "reason": reason}
        notice_queue(
            kind="broadcast-failed",
            mailing_list=broadcast.mailing_list,
            to=recipient.address,
            subject=subject,
            body=body,
        )


@transaction.atomic
def broadcast_fail(*, broadcast_id: int, reason: str) -> bool:
    """No copy of this broadcast can be made: every delivery still to send fails with the reason, the
    broadcast is FAILED (never retried) and the list's admins are told. True if it failed now."""
    broadcast = (
        Broadcast.objects.select_for_update(of=("self",))
        .select_related("mailing_list")
        .filter(id=broadcast_id, state=Broadcast.State.SENDING)
        .first()
    )
    if broadcast is None:
        return False
    now = timezone.now()
    reason = reason[:900]
    Delivery.objects.filter(
        broadcast_id=broadcast_id, status__in=[Delivery.Status.QUEUED, Delivery.Status.DEFERRED]
    ).update(status=Delivery.Status.FAILED, last_response=f"554 5.6.0 not sent: {reason}"[:1000], updated_at=now)
    broadcast.state = Broadcast.State.FAILED
    broadcast.failure_reason = reason
    broadcast.plan_resume_member_id = None
    broadcast.finished_at = now
    broadcast.save(update_fields=["state", "failure_reason", "plan_resume_member_id", "finished_at"])
    _failure_notices(broadcast, reason, none_sent=True)
    logger.error("broadcast failed: its copies cannot be made", extra={"broadcast": broadcast_id, "reason": reason})
    return True


@transaction.atomic
def broadcast_copies_failed(*, broadcast_id: int, reason: str) -> bool:
    """Some copies could not be made (they are FAILED already); the rest went out. Kept on the
    broadcast and told to the admins once. True when this is the first such report."""
    broadcast = Broadcast.objects.select_for_update(of=("self",)).select_related("mailing_list").get(id=broadcast_id)
    if broadcast.failure_reason:
        return False
    broadcast.failure_reason = reason[:900]
    broadcast.save(update_fields=["failure_reason"])
    _failure_notices(broadcast, broadcast.failure_reason, none_sent=False)
    logger.error("copies of a broadcast could not be made", extra={"broadcast": broadcast_id, "reason": reason})
    return True
