"""What a web broadcast's copies are made of, read once per broadcast by its renderer
(mailing.rendering.web_broadcast): text, attachments, and the options of the broadcast it carries
(itself, or the one a follow-up follows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from mailing.models import Broadcast, BroadcastAttachment, Survey, WebBroadcast


@dataclass(frozen=True)
class SurveyQuestionContent:
    text: str
    choices: tuple[tuple[int, str], ...]  # (choice id, label)


@dataclass(frozen=True)
class AttachmentContent:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class WebBroadcastContent:
    """Everything a web broadcast's copies are made of, read once per broadcast."""

    broadcast_id: int
    subject: str
    body_text: str
    created_at: datetime
    read_confirmation: bool
    questions: tuple[SurveyQuestionContent, ...] = ()
    survey_deadline: datetime | None = None
    attachments: tuple[AttachmentContent, ...] = field(default=())
    language: str = "ja"
    time_zone: str = "Asia/Tokyo"


def survey_questions(*, broadcast_id: int) -> tuple[SurveyQuestionContent, ...]:
    survey = Survey.objects.filter(broadcast_id=broadcast_id).prefetch_related("questions__choices").first()
    if survey is None:
        return ()
    return tuple(
        SurveyQuestionContent(text=question.text, choices=tuple((c.id, c.label) for c in question.choices.all()))
        for question in survey.questions.all()
    )


def web_broadcast_content(broadcast: Broadcast) -> WebBroadcastContent:
    web = WebBroadcast.objects.filter(broadcast_id=broadcast.id).first()
    options_id = web.options_broadcast_id if web else broadcast.id
    options = web if web is None or web.follow_up_of_id is None else WebBroadcast.objects.get(broadcast_id=options_id)
    survey = Survey.objects.filter(broadcast_id=options_id).first()
    attachments = tuple(
        AttachmentContent(filename=a.filename, content_type=a.content_type, data=bytes(a.data))
        for a in BroadcastAttachment.objects.filter(broadcast_id=broadcast.id).order_by("id")
    )
    organization = connection.tenant
    return WebBroadcastContent(
        broadcast_id=broadcast.id,
        subject=broadcast.subject,
        body_text=broadcast.body_text,
        created_at=broadcast.created_at,
        read_confirmation=bool(options and options.read_confirmation),
        questions=survey_questions(broadcast_id=options_id) if survey else (),
        survey_deadline=survey.deadline if survey else None,
        attachments=attachments,
        language=getattr(organization, "language", "") or "ja",
        time_zone=getattr(organization, "time_zone", "") or "Asia/Tokyo",
    )
