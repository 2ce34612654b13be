"""Sending each recipient their own copy, and recording what the relay said (docs/adr/0002).

- A batch renders and sends its deliveries over one reused SMTP connection.
- Each delivery's outcome is marked (in Redis, reply awaited) after the relay's reply and before
  the next copy's content goes out (while the relay answers the next copy's envelope); the
  batch's marks reach PostgreSQL in one UPDATE when it ends (mailing.services.delivery_marks).
  A worker killed mid-batch therefore re-sends at most the message that was in flight: the
  batch's next run writes the dead run's marks first.
- 2xx: SENT. 4xx: DEFERRED, retried with backoff until DELIVERY_RETRY_DEADLINE_SECONDS after the
  broadcast started, then FAILED. 5xx: FAILED, never retried (RFC 5321 §4.2.1).
- The relay going away mid-batch: reconnect and go on; if it cannot be reached, the rest of the
  batch is DEFERRED like a 4xx.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import logging
import smtplib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from django_tenants.utils import schema_context

from mailing.models import Broadcast, Delivery
from mailing.rendering import BroadcastRenderer, ListContext, Recipient, RenderedMessage, renderer_build
from mailing.rendering.headers import UnusableAddressError
from mailing.services.broadcasts import broadcast_copies_failed, broadcast_fail, broadcast_finish_if_done
from mailing.services.delivery_marks import Recorder, marks_flush, recording_cursor, retry_backoff  # noqa: F401
from mailing.smtp import data_terminated, relay_connect
from tenants.services import organization_sweep_extend, organizations_to_sweep

logger = logging.getLogger(__name__)

RECONNECTS_PER_BATCH = 3
RETRY_LOCK_KEY = -1  # batch indexes are >= 0
_MAX_REPLY_LINE = 8192  # smtplib._MAXLINE


# --- Renderers, prepared once per broadcast per worker process --------------------------------


class _RendererCache:
    """The last few broadcasts' prepared renderers: a batch reuses the parse and the body hash."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[str, int], BroadcastRenderer] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, broadcast: Broadcast) -> BroadcastRenderer:
        key = (connection.schema_name, broadcast.id)
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        renderer = renderer_build(broadcast, list_context(broadcast))
        with self.lock:
            self.entries[key] = renderer
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return renderer

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


renderer_cache = _RendererCache()


def list_context(broadcast: Broadcast) -> ListContext:
    mailing_list = broadcast.mailing_list
    domain = connection.tenant.get_primary_domain()
    return ListContext(
        local_part=mailing_list.local_part,
        name=mailing_list.name,
        subject_tag=mailing_list.subject_tag,
        domain=domain.domain,
        dkim_selector=domain.dkim_selector,
        dkim_private_key=domain.dkim_private_key,
    )


@dataclass(frozen=True)
class _Pending:
    id: int
    address: str
    token: str
    name: str
    attempts: int


# --- SMTP -----------------------------------------------------------------------------------------


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"[:1000]


def _closing(code: int, reply: bytes | str) -> None:
    # RFC 5321 §3.8: 421 means the server is closing the channel; treat it as a dropped connection.
    if code == 421:
        raise smtplib.SMTPServerDisconnected(_reply_text(code, reply))


def _reply(relay: smtplib.SMTP) -> tuple[int, bytes]:
    """smtplib's getreply (same result, same errors) without its per-line bookkeeping: a copy reads
    four replies, and at thousands of copies a second the interpreter's time is the bottleneck."""
    file = relay.file
    if file is None:
        file = relay.file = relay.sock.makefile("rb")
    lines = []
    while True:
        line = file.readline(_MAX_REPLY_LINE + 1)
        if not line:
            relay.close()
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        if len(line) > _MAX_REPLY_LINE:
            relay.close()
            raise smtplib.SMTPResponseException(500, "Line too long.")
        lines.append(line[4:].strip(b" \t\r\n"))
        if line[3:4] != b"-":
            break
    try:
        code = int(line[:3])
    except ValueError:
        code = -1
    return code, b"\n".join(lines)


def _transmit(relay: smtplib.SMTP, message: RenderedMessage, before_content: Callable[[], None]) -> tuple[int, str]:
    """One MAIL/RCPT/DATA transaction, one command at a time (a relay without PIPELINING; with it,
    _BatchSender._stream). Returns the deciding reply; connection errors propagate. The addresses are
    in wire form already (smtplib's quoteaddr would re-parse them and unquote "taro..yamada"@docomo.ne.jp).
    `before_content` (recording the previous copy's outcome) runs before MAIL."""
    before_content()
    replies = []
    for line in (f"MAIL FROM:<{message.envelope_from}>", f"RCPT TO:<{message.envelope_to}>", "DATA"):
        relay.send(line + "\r\n")
        replies.append(_reply(relay))
        _closing(*replies[-1])
        if replies[-1][0] >= 400:
            break
    code, reply = replies[-1]
    if code == 354:
        relay.send(_wire(message))
        code, reply = _reply(relay)
        _closing(code, reply)
        return code, _reply_text(code, reply)
    relay.rset()
    return code, _reply_text(code, reply)


def _relay_close(relay: smtplib.SMTP | None) -> None:
    if relay is None:
        return
    try:
        relay.quit()
    except (smtplib.SMTPException, OSError):
        relay.close()


def _envelope(message: RenderedMessage) -> bytes:
    return f"MAIL FROM:<{message.envelope_from}>\r\nRCPT TO:<{message.envelope_to}>\r\nDATA\r\n".encode()


def _wire(message: RenderedMessage) -> bytes:
    return message.wire if message.wire is not None else data_terminated(message.data)


_UNUSABLE = "553 5.1.3 unusable address (not sent)"


class CopyNotMadeError(Exception):
    """The renderer raised for one recipient (not an unusable address): a bug or data it cannot encode."""


def _not_made(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


class _BatchSender:
    """Sends one batch's copies over one reused connection (reconnecting when it drops) and records
    each outcome (Recorder: a Redis mark, reply awaited) before the next copy's content goes out.

    `index` is the first copy whose outcome is not recorded yet: after a dropped connection the batch
    resumes there, so the copy in flight is sent again (at most one duplicate) and nothing is skipped.
    """

    def __init__(self, renderer: BroadcastRenderer, pending: list[_Pending], recorder: Recorder) -> None:
        self.renderer = renderer
        self.pending = pending
        self.recorder = recorder
        self.relay: smtplib.SMTP | None = None
        self.index = 0
        self.unrecorded: Callable[[], None] | None = None  # the last copy's outcome, not yet marked
        self.copies_not_made: list[str] = []  # why, for each copy the renderer could not make

    def run(self) -> None:
        failures = 0
        while self.index < len(self.pending):
            try:
                if self.relay is None:
                    self.relay = relay_connect()
                    self.relay.ehlo_or_helo_if_needed()
                if self.relay.has_extn("pipelining"):
                    self._stream()
                else:
                    self._one()
            except (smtplib.SMTPException, OSError) as error:
                # The relay went away (or never answered): the message in flight may or may not have
                # arrived; it is sent again on a new connection (at most one duplicate).
                self.record_last()
                _relay_close(self.relay)
                self.relay = None
                failures += 1
                if failures > RECONNECTS_PER_BATCH:
                    logger.warning("relay unreachable; deferring the rest of the batch", exc_info=True)
                    for rest in self.pending[self.index :]:
                        self.recorder.temporary(rest.id, rest.attempts, f"451 relay unreachable: {error}"[:1000])
                    return

    def close(self) -> None:
        try:
            self.record_last()
        finally:
            _relay_close(self.relay)
            self.relay = None

    def record_last(self) -> None:
        if self.unrecorded is not None:
            record, self.unrecorded = self.unrecorded, None
            record()

    def _record(self, position: int, code: int, reply: str) -> None:
        item = self.pending[position]
        if 200 <= code < 300:
            self.recorder.sent(item.id, item.attempts, reply)
        else:
            self.recorder.refused(item.id, item.attempts, code, reply)

    def _render(self, item: _Pending) -> RenderedMessage:
        try:
            return self.renderer.render(Recipient(address=item.address, name=item.name, token=item.token))
        except UnusableAddressError:
            raise
        except Exception as error:
            raise CopyNotMadeError(_not_made(error)) from error

    def _not_rendered(self, item: _Pending, error: Exception) -> None:
        """Record a copy that cannot be made as failed (never retried), saying why."""
        if isinstance(error, UnusableAddressError):
            self.recorder.failed(item.id, item.attempts, _UNUSABLE)
            return
        logger.error("a copy could not be made", extra={"delivery": item.id, "error": str(error)})
        self.copies_not_made.append(str(error))
        self.recorder.failed(item.id, item.attempts, f"554 5.6.0 copy could not be made: {error}"[:1000])

    def _render_from(self, position: int) -> tuple[int, RenderedMessage | None]:
        """The first copy from `position` on that can be rendered (copies that cannot are recorded
        as failed on the way); (len(pending), None) when there is none."""
        while position < len(self.pending):
            item = self.pending[position]
            try:
                return position, self._render(item)
            except (UnusableAddressError, CopyNotMadeError) as error:
                self._not_rendered(item, error)
                position += 1
        return position, None

    def _one(self) -> None:
        """One copy, one command at a time (a relay without PIPELINING)."""
        item = self.pending[self.index]
        try:
            message = self._render(item)
        except (UnusableAddressError, CopyNotMadeError) as error:
            self.record_last()
            self._not_rendered(item, error)
            self.index += 1
            return
        code, reply = _transmit(self.relay, message, self.record_last)
        if 200 <= code < 300:
            self.unrecorded = functools.partial(self.recorder.sent, item.id, item.attempts, reply)
        else:
            self.unrecorded = functools.partial(self.recorder.refused, item.id, item.attempts, code, reply)
        self.index += 1

    def _stream(self) -> None:
        """The rest of the batch over a PIPELINING relay (RFC 2920), one write and one read per copy.

        A copy's content goes out in the same write as the next copy's MAIL, RCPT and DATA (message
        content may start a command group, §3.1). The copy's outcome (the reply to its ".") is
        recorded while the relay reads that envelope, and before the next copy's content is sent:
        the promise of one in-flight copy at most holds, at half the system calls of a write for the
        envelope and another for the content (measured on loopback: 66-73 -> 30-35 µs of CPU).
        """
        relay = self.relay
        position, message = self._render_from(self.index)
        if message is None:
            self.index = position
            return
        relay.sock.sendall(_envelope(message))
        while True:
            replies = [_reply(relay), _reply(relay), _reply(relay)]
            for code, reply in replies:
                _closing(code, reply)
            (mail_code, _), (rcpt_code, _), (data_code, _) = replies
            if data_code != 354 or mail_code != 250 or rcpt_code not in (250, 251):
                if data_code == 354:  # cannot happen with a correct server: end the empty message
                    relay.sock.sendall(b".\r\n")
                    _reply(relay)
                relay.rset()
                code, reply = next(
                    ((code, reply) for code, reply in replies if code >= 300 and code != 354), replies[2]
                )
                self._record(position, code, _reply_text(code, reply))
                self.index = position + 1
                position, message = self._render_from(position + 1)
                if message is None:
                    self.index = position
                    return
                relay.sock.sendall(_envelope(message))
                continue
            next_position, next_message = self._render_from(position + 1)
            if next_message is None:
                relay.sock.sendall(_wire(message))
            else:
                relay.sock.sendall(_wire(message) + _envelope(next_message))
            code, reply = _reply(relay)
            _closing(code, reply)
            self._record(position, code, _reply_text(code, reply))
            self.index = position + 1
            if next_message is None:
                self.index = next_position
                return
            position, message = next_position, next_message


def _renderer_or_fail(broadcast: Broadcast) -> BroadcastRenderer | None:
    """The broadcast's prepared renderer; None when it cannot be prepared, after failing the
    broadcast with the reason (not retried: the same data fails the same way every time)."""
    try:
        return renderer_cache.get(broadcast)
    except DatabaseError:
        raise  # our own fault, temporary: the job is retried
    except Exception as error:
        logger.exception("renderer could not be prepared", extra={"broadcast": broadcast.id})
        broadcast_fail(broadcast_id=broadcast.id, reason=_not_made(error))
        return None


def _deliveries_send(broadcast: Broadcast, scope: int, pending: list[_Pending]) -> None:
    """Send `pending` over one reused connection (_BatchSender); the marks are written to
    PostgreSQL when the batch ends (delivery_marks)."""
    if not pending:
        return
    renderer = _renderer_or_fail(broadcast)
    if renderer is None:
        return
    with recording_cursor() as cursor:
        recorder = Recorder(broadcast, scope, cursor)
        sender = _BatchSender(renderer, pending, recorder)
        try:
            sender.run()
        finally:
            try:
                sender.close()
            finally:
                recorder.close()
        recorder.flush()
    if sender.copies_not_made:
        broadcast_copies_failed(broadcast_id=broadcast.id, reason=sender.copies_not_made[0])


# --- Locks: one run of a batch at a time ----------------------------------------------------------


@contextlib.contextmanager
def _batch_lock(broadcast_id: int, batch_index: int) -> Iterator[bool]:
    """A session advisory lock per (organization, broadcast, batch): a duplicate message of a batch
    (dramatiq is at-least-once) waits for nothing and sends nothing while the first run is going.
    PostgreSQL releases it if the worker dies."""
    key = f"{connection.schema_name}.broadcast.{broadcast_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s), %s)", [key, batch_index])
        acquired = bool(cursor.fetchone()[0])
        try:
            yield acquired
        finally:
            if acquired:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", [key, batch_index])


def _chain(broadcast_id: int, bounds: list[int], following: int) -> bool:
    """Enqueue batch `following` if the plan has it and it still has queued deliveries."""
    if following + 1 < len(bounds) and batch_has_queued(broadcast_id, bounds, following):
        from mailing.tasks.delivery import delivery_batch_send as batch_actor

        batch_actor.send(connection.schema_name, broadcast_id, following)
        return True
    return False


def batch_has_queued(broadcast_id: int, bounds: list[int], batch_index: int) -> bool:
    return Delivery.objects.filter(
        broadcast_id=broadcast_id,
        id__gte=bounds[batch_index],
        id__lt=bounds[batch_index + 1],
        status=Delivery.Status.QUEUED,
    ).exists()


def _pending(queryset) -> list[_Pending]:
    rows = queryset.order_by("id").values_list("id", "address", "token", "member__name", "attempts")
    return [_Pending(id=i, address=a, token=t, name=n or "", attempts=k) for i, a, t, n, k in rows]


# --- Services -------------------------------------------------------------------------------------


def delivery_batch_send(*, broadcast_id: int, batch_index: int) -> None:
    """Send one batch of a broadcast's fan-out; the batch FANOUT_WINDOW places later is enqueued first."""
    broadcast = Broadcast.objects.select_related("mailing_list").filter(id=broadcast_id).first()
    if broadcast is None or broadcast.state in (Broadcast.State.CANCELLED, Broadcast.State.FAILED):
        return
    bounds = broadcast.batch_bounds
    if batch_index + 1 >= len(bounds):
        return
    with _batch_lock(broadcast_id, batch_index) as acquired:
        if not acquired:
            return  # another run of this batch is sending it and has enqueued the next
        # A previous run of this batch that died left its marks in Redis: written first, so what
        # it sent is not selected again.
        marks_flush(broadcast_id=broadcast_id, scope=batch_index)
        pending = _pending(
            Delivery.objects.filter(
                broadcast_id=broadcast_id,
                id__gte=bounds[batch_index],
                id__lt=bounds[batch_index + 1],
                status=Delivery.Status.QUEUED,
            )
        )
        # The next batch goes into the queue now, not when this one ends, so the worker has prefetched
        # it by then (no idle poll between links of the chain). Not by a run that finds its batch
        # sent already: the run that sent it enqueued the successor (so a batch enqueued twice, by the
        # plan's second step and its predecessor, does not double the rest of the chain); nor when
        # the successor was sent already (the chain went on without this batch after a crash).
        following = batch_index + settings.FANOUT_WINDOW
        chained = bool(pending) and _chain(broadcast_id, bounds, following)
        _deliveries_send(broadcast, batch_index, pending)
        if pending and not chained and broadcast.plan_resume_member_id is not None:
            # The plan was still growing when this batch started: its successor may exist now
            # (broadcasts._chain_resume enqueues those whose predecessor had ended).
            bounds = Broadcast.objects.filter(id=broadcast_id).values_list("batch_bounds", flat=True).first() or bounds
            _chain(broadcast_id, bounds, following)
    broadcast_finish_if_done(broadcast_id=broadcast_id)


def delivery_retry_send(*, broadcast_id: int) -> None:
    """Send a broadcast's deferred deliveries whose next attempt is due."""
    broadcast = Broadcast.objects.select_related("mailing_list").filter(id=broadcast_id).first()
    if broadcast is None or broadcast.state == Broadcast.State.FAILED:
        return
    with _batch_lock(broadcast_id, RETRY_LOCK_KEY) as acquired:
        if not acquired:
            return
        marks_flush(broadcast_id=broadcast_id, scope=RETRY_LOCK_KEY)
        pending = _pending(
            Delivery.objects.filter(
                broadcast_id=broadcast_id, status=Delivery.Status.DEFERRED, next_attempt_at__lte=timezone.now()
            )
        )
        _deliveries_send(broadcast, RETRY_LOCK_KEY, pending)
    broadcast_finish_if_done(broadcast_id=broadcast_id)


def deliveries_retry_enqueue_due_in_schema(*, schema_name: str) -> int:
    """Enqueue retries of due deferred deliveries, and batches whose queued deliveries stalled
    (their enqueue was lost, e.g. Redis was down at commit). Returns the number of jobs enqueued."""
    from mailing.tasks.delivery import broadcast_plan_rest as plan_rest_actor
    from mailing.tasks.delivery import delivery_batch_send as batch_actor
    from mailing.tasks.delivery import delivery_retry_send as retry_actor

    now = timezone.now()
    enqueued = 0
    due = (
        Delivery.objects.filter(status=Delivery.Status.DEFERRED, next_attempt_at__lte=now)
        .values_list("broadcast_id", flat=True)
        .distinct()
    )
    for broadcast_id in due:
        retry_actor.send(schema_name, broadcast_id)
        enqueued += 1
    # Step 2 of a plan whose job was lost (the broker was down at commit, or a worker died in it).
    plan_stalled_before = now - timedelta(seconds=settings.FANOUT_PLAN_STALL_SECONDS)
    unplanned = Broadcast.objects.filter(
        state=Broadcast.State.SENDING, plan_resume_member_id__isnull=False, started_at__lt=plan_stalled_before
    ).values_list("id", flat=True)
    for broadcast_id in unplanned:
        plan_rest_actor.send(schema_name, broadcast_id)
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
            batch_actor.send(schema_name, broadcast.id, batch_index)
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
