"""Writes for broadcasts composed in the console (F7, F9, F10, F11).

A web broadcast starts as a DRAFT (composed, previewed), then is sent now or SCHEDULED; a scheduled
one can be edited, re-timed, sent now or CANCELLED until the scheduler's tick starts it
(mailing.services.broadcast_schedule). Sending goes through the same fan-out as a mail post
(`broadcast_deliveries_plan`, docs/adr/0002): the same deliveries, batches, renderer cache and marks.
The public index of scheduled broadcasts (tenants.models.ScheduledBroadcast) changes in the same
transaction as the broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from mailing.errors import MailingUserError
from mailing.models import (
    Broadcast,
    BroadcastAttachment,
    MailingList,
    Member,
    Survey,
    SurveyChoice,
    SurveyQuestion,
    WebBroadcast,
)
from mailing.rendering.headers import text_clean
from mailing.services.broadcasts import broadcast_deliveries_plan
from tenants.scheduled_broadcasts import scheduled_broadcast_index_clear, scheduled_broadcast_index_set

MAX_QUESTIONS = 10
MAX_CHOICES = 20
MAX_BODY_CHARACTERS = 100_000
EDITABLE = (Broadcast.State.DRAFT, Broadcast.State.SCHEDULED)


@dataclass(frozen=True)
class QuestionInput:
    text: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class AttachmentInput:
    filename: str
    content_type: str
    data: bytes


def attachment_limit_bytes() -> int:
    return settings.BROADCAST_ATTACHMENTS_MAX_BYTES


def _questions_clean(questions: list[QuestionInput]) -> list[QuestionInput]:
    cleaned = []
    for number, question in enumerate(questions, start=1):
        text = text_clean(question.text, max_length=500)
        choices = tuple(text_clean(choice, max_length=100) for choice in question.choices)
        choices = tuple(choice for choice in choices if choice)
        if not text and not choices:
            continue
        if not text:
            raise MailingUserError(_("Question %(number)d has choices but no question.") % {"number": number})
        if len(choices) < 2:
            raise MailingUserError(_("Question %(number)d needs at least two choices.") % {"number": number})
        if len(choices) > MAX_CHOICES:
            raise MailingUserError(_("A question can have at most %(max)d choices.") % {"max": MAX_CHOICES})
        if len(set(choices)) != len(choices):
            raise MailingUserError(_("Question %(number)d has the same choice twice.") % {"number": number})
        cleaned.append(QuestionInput(text=text, choices=choices))
    if len(cleaned) > MAX_QUESTIONS:
        raise MailingUserError(_("A survey can have at most %(max)d questions.") % {"max": MAX_QUESTIONS})
    return cleaned


def _survey_replace(broadcast: Broadcast, questions: list[QuestionInput], *, deadline, allow_comment: bool) -> None:
    Survey.objects.filter(broadcast=broadcast).delete()
    if not questions:
        return
    survey = Survey.objects.create(broadcast=broadcast, deadline=deadline, allow_comment=allow_comment)
    for position, question in enumerate(questions):
        row = SurveyQuestion.objects.create(survey=survey, position=position, text=question.text)
        SurveyChoice.objects.bulk_create(
            [SurveyChoice(question=row, position=i, label=label) for i, label in enumerate(question.choices)]
        )


@transaction.atomic
def web_broadcast_draft_save(
    *,
    actor: Any,
    lists: list[MailingList],
    subject: str,
    body_text: str,
    read_confirmation: bool = False,
    questions: list[QuestionInput] | None = None,
    survey_deadline: datetime | None = None,
    survey_allow_comment: bool = False,
    new_attachments: list[AttachmentInput] | None = None,
    removed_attachment_ids: list[int] | None = None,
    broadcast: Broadcast | None = None,
) -> Broadcast:
    """Create a draft, or change a draft or a scheduled broadcast (content, lists, options).

    `lists` must already be lists the actor may send to (accounts.policy.broadcast_lists_sendable);
    the first is the broadcast's own list (From, List-Id).
    """
    if not lists:
        raise MailingUserError(_("Choose at least one list."))
    subject = text_clean(subject, max_length=998)
    if not subject:
        raise MailingUserError(_("Enter a subject."))
    if not body_text.strip():
        raise MailingUserError(_("Enter the message."))
    if len(body_text) > MAX_BODY_CHARACTERS:
        raise MailingUserError(_("The message is too long."))
    cleaned_questions = _questions_clean(questions or [])
    if survey_deadline is not None and survey_deadline <= timezone.now():
        raise MailingUserError(_("The survey deadline must be in the future."))
    if broadcast is not None:
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.channel != Broadcast.Channel.WEB or broadcast.state not in EDITABLE:
            raise MailingUserError(_("This broadcast was sent or cancelled and can no longer be changed."))
        web = WebBroadcast.objects.get(broadcast=broadcast)
        if web.follow_up_of_id is not None and (cleaned_questions or read_confirmation != web.read_confirmation):
            # A follow-up carries the first broadcast's options; it has none of its own.
            cleaned_questions, read_confirmation = [], web.read_confirmation
    else:
        broadcast = Broadcast(channel=Broadcast.Channel.WEB, state=Broadcast.State.DRAFT)
        web = None
    broadcast.mailing_list = lists[0]
    broadcast.subject = subject
    broadcast.body_text = body_text.replace("\r\n", "\n")
    if actor is not None and getattr(actor, "is_authenticated", False):
        broadcast.author_user = broadcast.author_user or actor
        broadcast.author_address = broadcast.author_address or (actor.email or "")[:254]
    broadcast.save()
    if web is None:
        web = WebBroadcast.objects.create(broadcast=broadcast, read_confirmation=read_confirmation)
    else:
        web.read_confirmation = read_confirmation
        web.save(update_fields=["read_confirmation", "updated_at"])
    web.lists.set(lists)
    if web.follow_up_of_id is None:
        _survey_replace(broadcast, cleaned_questions, deadline=survey_deadline, allow_comment=survey_allow_comment)

    if removed_attachment_ids:
        BroadcastAttachment.objects.filter(broadcast=broadcast, id__in=removed_attachment_ids).delete()
    for attachment in new_attachments or []:
        BroadcastAttachment.objects.create(
            broadcast=broadcast,
            filename=text_clean(attachment.filename, max_length=255) or "attachment",
            content_type=attachment.content_type[:127] or "application/octet-stream",
            size=len(attachment.data),
            data=attachment.data,
        )
    total = sum(BroadcastAttachment.objects.filter(broadcast=broadcast).values_list("size", flat=True))
    if total > attachment_limit_bytes():
        raise MailingUserError(
            _("Attachments may be at most %(limit)s in all.") % {"limit": _megabytes(attachment_limit_bytes())}
        )
    audit_record(actor=actor, action="broadcast.save", obj=broadcast, mailing_list_id=broadcast.mailing_list_id)
    return broadcast


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def _locked_editable(broadcast: Broadcast) -> Broadcast:
    locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    if locked.channel != Broadcast.Channel.WEB or locked.state not in EDITABLE:
        raise MailingUserError(_("This broadcast was sent or cancelled already."))
    return locked


@transaction.atomic
def web_broadcast_send_now(*, broadcast: Broadcast, actor: Any) -> Broadcast:
    """Start the fan-out of a draft or a scheduled broadcast now (the same path as a mail post)."""
    broadcast = _locked_editable(broadcast)
    scheduled_broadcast_index_clear(schema_name=connection.schema_name, broadcast_id=broadcast.pk)
    broadcast.state = Broadcast.State.SENDING
    broadcast.save(update_fields=["state"])
    audit_record(actor=actor, action="broadcast.send", obj=broadcast, mailing_list_id=broadcast.mailing_list_id)
    return broadcast_deliveries_plan(broadcast=broadcast)


def _schedule_time_check(at: datetime) -> None:
    now = timezone.now()
    if at <= now:
        raise MailingUserError(_("Choose a time in the future."))
    if at > now + timedelta(days=settings.BROADCAST_SCHEDULE_MAX_DAYS):
        raise MailingUserError(
            _("A broadcast can be scheduled at most %(days)d days ahead.")
            % {"days": settings.BROADCAST_SCHEDULE_MAX_DAYS}
        )


@transaction.atomic
def web_broadcast_schedule(*, broadcast: Broadcast, at: datetime, actor: Any) -> Broadcast:
    """Schedule a draft, or re-time a scheduled broadcast: it goes out at `at` only."""
    _schedule_time_check(at)
    broadcast = _locked_editable(broadcast)
    before = {
        "state": broadcast.state,
        "scheduled_at": broadcast.scheduled_at.isoformat() if broadcast.scheduled_at else None,
    }
    broadcast.state = Broadcast.State.SCHEDULED
    broadcast.scheduled_at = at
    broadcast.save(update_fields=["state", "scheduled_at"])
    scheduled_broadcast_index_set(schema_name=connection.schema_name, broadcast_id=broadcast.pk, due_at=at)
    audit_record(
        actor=actor,
        action="broadcast.schedule",
        obj=broadcast,
        mailing_list_id=broadcast.mailing_list_id,
        before=before,
        after={"state": broadcast.state, "scheduled_at": at.isoformat()},
    )
    return broadcast


@transaction.atomic
def web_broadcast_cancel(*, broadcast: Broadcast, actor: Any) -> Broadcast | None:
    """Cancel a scheduled broadcast (it is never sent; the history keeps it), or discard a draft
    (deleted with its attachments and survey: nothing was sent). None when a draft was discarded."""
    broadcast = _locked_editable(broadcast)
    if broadcast.state == Broadcast.State.DRAFT:
        audit_record(actor=actor, action="broadcast.discard", obj=broadcast, mailing_list_id=broadcast.mailing_list_id)
        broadcast.delete()
        return None
    scheduled_broadcast_index_clear(schema_name=connection.schema_name, broadcast_id=broadcast.pk)
    broadcast.state = Broadcast.State.CANCELLED
    broadcast.save(update_fields=["state"])
    audit_record(actor=actor, action="broadcast.cancel", obj=broadcast, mailing_list_id=broadcast.mailing_list_id)
    return broadcast


@transaction.atomic
def web_broadcast_follow_up_create(*, broadcast: Broadcast, kind: str, actor: Any) -> Broadcast:
    """A draft that sends `broadcast` again to those who have not confirmed (or a survey reminder to
    those who have not answered every question), linked to it and carrying its links' options.
    Its recipients are chosen when it is sent (mailing.services.broadcast_recipients)."""
    web = WebBroadcast.objects.filter(broadcast=broadcast).first()
    if web is None or web.follow_up_of_id is not None:
        raise MailingUserError(_("Only a broadcast composed in the console can be sent again."))
    if kind == WebBroadcast.FollowUp.UNCONFIRMED and not web.read_confirmation:
        raise MailingUserError(_("This broadcast has no read confirmation."))
    if kind == WebBroadcast.FollowUp.SURVEY_REMINDER and not Survey.objects.filter(broadcast=broadcast).exists():
        raise MailingUserError(_("This broadcast has no survey."))
    if kind not in (WebBroadcast.FollowUp.UNCONFIRMED, WebBroadcast.FollowUp.SURVEY_REMINDER):
        raise MailingUserError(f"unknown follow-up {kind!r}")
    prefix = _("[Resent]") if kind == WebBroadcast.FollowUp.UNCONFIRMED else _("[Reminder]")
    follow_up = Broadcast.objects.create(
        mailing_list_id=broadcast.mailing_list_id,
        channel=Broadcast.Channel.WEB,
        state=Broadcast.State.DRAFT,
        subject=text_clean(f"{prefix} {broadcast.subject}", max_length=998),
        body_text=broadcast.body_text,
        author_user=actor if getattr(actor, "is_authenticated", False) else None,
        author_address=(getattr(actor, "email", "") or "")[:254],
    )
    follow_web = WebBroadcast.objects.create(
        broadcast=follow_up, read_confirmation=web.read_confirmation, follow_up_of=broadcast, follow_up_kind=kind
    )
    follow_web.lists.set(web.lists.all())
    for attachment in BroadcastAttachment.objects.filter(broadcast=broadcast):
        BroadcastAttachment.objects.create(
            broadcast=follow_up,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
            data=attachment.data,
        )
    audit_record(actor=actor, action="broadcast.follow_up", obj=follow_up, mailing_list_id=follow_up.mailing_list_id)
    return follow_up


def recipients_estimate(*, lists: list[MailingList]) -> int:
    """Copies a broadcast to these lists would make now: one per address among their active members."""
    return (
        Member.objects.filter(mailing_list__in=lists, status=Member.Status.ACTIVE)
        .values("address_normalized")
        .distinct()
        .count()
    )
