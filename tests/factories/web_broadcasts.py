"""Factories for web broadcasts: drafts made through the services, as the console makes them."""

from __future__ import annotations

from mailing.models import Broadcast, MailingList
from mailing.services.web_broadcasts import (
    AttachmentInput,
    QuestionInput,
    web_broadcast_draft_save,
    web_broadcast_send_now,
)

ATTENDANCE = QuestionInput(text="12月5日（土）の保護者会に出席されますか？", choices=("○ 出席", "× 欠席", "△ 未定"))
LONG_SUBJECT = (
    "【重要】株式会社サンプル 営業本部 第二営業部より 年末年始の営業日と保護者会のご案内（必ずお読みください）"
)
BODY = (
    "保護者の皆さま\n\nいつもお世話になっております。\n"
    "12月5日（土）に保護者会を開きます。  \n出欠をお知らせください。\n"
)


def web_broadcast_draft_make(
    lists: list[MailingList],
    *,
    subject: str = LONG_SUBJECT,
    body_text: str = BODY,
    read_confirmation: bool = False,
    questions: list[QuestionInput] | None = None,
    survey_deadline=None,
    survey_allow_comment: bool = False,
    attachments: list[AttachmentInput] | None = None,
    actor=None,
) -> Broadcast:
    return web_broadcast_draft_save(
        actor=actor,
        lists=lists,
        subject=subject,
        body_text=body_text,
        read_confirmation=read_confirmation,
        questions=questions,
        survey_deadline=survey_deadline,
        survey_allow_comment=survey_allow_comment,
        new_attachments=attachments,
    )


def web_broadcast_sent_make(lists: list[MailingList], **options) -> Broadcast:
    """A web broadcast sent now: deliveries planned in its transaction, fan-out enqueued on commit."""
    actor = options.get("actor")
    return web_broadcast_send_now(broadcast=web_broadcast_draft_make(lists, **options), actor=actor)
