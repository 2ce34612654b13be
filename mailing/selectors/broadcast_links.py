"""Reads behind the read-confirmation and survey links: who a token belongs to.

The token is the recipient's delivery token (≥128 random bits, mailing.services.broadcasts). A link
of a follow-up (sent again, reminder) counts for the recipient's delivery of the first broadcast,
which carries the options. Anything that is not a live token of this organization (malformed,
tampered, unknown, another organization's: each organization is its own schema) reads as None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from mailing.models import Broadcast, Delivery, ReadConfirmation, Survey, SurveyAnswer, SurveyChoice
from mailing.selectors.deliveries import TOKEN_SHAPE


@dataclass(frozen=True)
class LinkRecipient:
    delivery_id: int  # their delivery of the broadcast that carries the options
    via_broadcast_id: int  # the broadcast whose mail held the link
    via_sent_at: datetime | None
    broadcast: Broadcast  # the broadcast that carries the options
    read_confirmation: bool
    address: str

    @property
    def expires_at(self) -> datetime | None:
        started = self.broadcast.started_at
        return started + timedelta(days=settings.BROADCAST_LINK_RETENTION_DAYS) if started else None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and timezone.now() > self.expires_at

    def seconds_since_delivery(self, now: datetime) -> int | None:
        return int((now - self.via_sent_at).total_seconds()) if self.via_sent_at else None


def link_recipient_get(*, token: str) -> LinkRecipient | None:
    if not TOKEN_SHAPE.match(token):
        return None
    via = (
        Delivery.objects.select_related("broadcast", "broadcast__web", "broadcast__mailing_list")
        .only(
            "id",
            "member_id",
            "address",
            "sent_at",
            "broadcast__id",
            "broadcast__subject",
            "broadcast__started_at",
            "broadcast__channel",
            "broadcast__mailing_list__name",
            "broadcast__web__read_confirmation",
            "broadcast__web__follow_up_of_id",
        )
        .filter(token=token)
        .first()
    )
    if via is None or via.broadcast.channel != Broadcast.Channel.WEB:
        return None
    web = getattr(via.broadcast, "web", None)
    if web is None:
        return None
    if web.follow_up_of_id is None:
        return LinkRecipient(
            delivery_id=via.id,
            via_broadcast_id=via.broadcast_id,
            via_sent_at=via.sent_at,
            broadcast=via.broadcast,
            read_confirmation=web.read_confirmation,
            address=via.address,
        )
    first = (
        Delivery.objects.select_related("broadcast", "broadcast__mailing_list")
        .filter(broadcast_id=web.follow_up_of_id, member_id=via.member_id)
        .first()
        if via.member_id is not None
        else None
    )
    if first is None:  # the member left between the two mails
        return None
    return LinkRecipient(
        delivery_id=first.id,
        via_broadcast_id=via.broadcast_id,
        via_sent_at=via.sent_at,
        broadcast=first.broadcast,
        read_confirmation=web.read_confirmation,
        address=via.address,
    )


def read_confirmation_get(*, delivery_id: int) -> ReadConfirmation | None:
    return ReadConfirmation.objects.filter(delivery_id=delivery_id).first()


def survey_choice_get(*, broadcast_id: int, choice_id: int) -> SurveyChoice | None:
    """The choice, if it belongs to the survey of `broadcast_id` (a choice id from another survey or
    organization reads as None)."""
    return (
        SurveyChoice.objects.select_related("question", "question__survey")
        .filter(id=choice_id, question__survey__broadcast_id=broadcast_id)
        .first()
    )


def survey_get(*, broadcast_id: int) -> Survey | None:
    return Survey.objects.filter(broadcast_id=broadcast_id).first()


def survey_answer_get(*, question_id: int, delivery_id: int) -> SurveyAnswer | None:
    return (
        SurveyAnswer.objects.select_related("choice").filter(question_id=question_id, delivery_id=delivery_id).first()
    )
