"""Reads of read confirmations and survey answers (F9, F10): counts, per-recipient rows, timelines, CSV.

Per recipient a read confirmation is one of three things, never guessed from visits:
- "confirmed" (the page's button was pressed; its time);
- "opened": the link was fetched (GET/HEAD) but nobody pressed the button: may be a mail gateway's
  scanner, may be a person who did not press;
- "nothing".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Subquery
from django.utils import timezone

from mailing.models import (
    Delivery,
    LinkVisit,
    ReadConfirmation,
    Survey,
    SurveyAnswer,
    SurveyChoice,
    SurveyQuestion,
    WebBroadcast,
)

READ_STATES = ("confirmed", "opened", "nothing")


def results_broadcast_id(broadcast_id: int) -> int:
    """The broadcast whose results these are: a follow-up shows the results of the one it follows."""
    follows = WebBroadcast.objects.filter(broadcast_id=broadcast_id).values_list("follow_up_of_id", flat=True).first()
    return follows or broadcast_id


def read_rows(*, broadcast_id: int, state: str = "", search: str = ""):
    """Each recipient with their confirmation time, their first and last link visit and visit count."""
    visits = LinkVisit.objects.filter(delivery_id=OuterRef("pk"), kind=LinkVisit.Kind.READ)
    rows = (
        Delivery.objects.filter(broadcast_id=broadcast_id)
        .select_related("member")
        .annotate(
            confirmed_at=Subquery(
                ReadConfirmation.objects.filter(delivery_id=OuterRef("pk")).values("confirmed_at")[:1]
            ),
            opened=Exists(visits),
            first_visit_at=Subquery(
                visits.order_by().values("delivery_id").annotate(first=Min("visited_at")).values("first")[:1]
            ),
            visit_count=Subquery(visits.order_by().values("delivery_id").annotate(n=Count("id")).values("n")[:1]),
        )
    )
    if state == "confirmed":
        rows = rows.filter(confirmed_at__isnull=False)
    elif state == "opened":
        rows = rows.filter(confirmed_at__isnull=True, opened=True)
    elif state == "nothing":
        rows = rows.filter(confirmed_at__isnull=True, opened=False)
    if search:
        rows = rows.filter(Q(address__icontains=search) | Q(member__name__icontains=search))
    return rows.order_by("id")


def read_state(row) -> str:
    if row.confirmed_at is not None:
        return "confirmed"
    return "opened" if row.opened else "nothing"


@dataclass(frozen=True)
class ReadSummary:
    recipients: int
    confirmed: int
    opened: int  # opened, not confirmed
    nothing: int
    timeline: list[tuple[datetime, int]]  # (confirmation time, cumulative count), in order
    started_at: datetime | None

    @property
    def confirmed_percent(self) -> float:
        return 100 * self.confirmed / self.recipients if self.recipients else 0.0


def read_summary(*, broadcast_id: int, started_at: datetime | None) -> ReadSummary:
    recipients = Delivery.objects.filter(broadcast_id=broadcast_id).count()
    times = list(
        ReadConfirmation.objects.filter(broadcast_id=broadcast_id)
        .order_by("confirmed_at")
        .values_list("confirmed_at", flat=True)
    )
    opened = (
        LinkVisit.objects.filter(delivery__broadcast_id=broadcast_id, kind=LinkVisit.Kind.READ)
        .exclude(delivery__read_confirmation__isnull=False)
        .values("delivery_id")
        .distinct()
        .count()
    )
    confirmed = len(times)
    return ReadSummary(
        recipients=recipients,
        confirmed=confirmed,
        opened=opened,
        nothing=max(recipients - confirmed - opened, 0),
        timeline=[(at, number) for number, at in enumerate(times, start=1)],
        started_at=started_at,
    )


# --- Surveys ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceTally:
    choice_id: int
    label: str
    count: int


@dataclass(frozen=True)
class QuestionResult:
    question_id: int
    text: str
    tallies: list[ChoiceTally]
    answered: int
    recipients: int

    @property
    def unanswered(self) -> int:
        return max(self.recipients - self.answered, 0)


def survey_results(*, broadcast_id: int) -> list[QuestionResult]:
    recipients = Delivery.objects.filter(broadcast_id=broadcast_id).count()
    questions = SurveyQuestion.objects.filter(survey__broadcast_id=broadcast_id).order_by("position")
    counts = dict(
        SurveyChoice.objects.filter(question__survey__broadcast_id=broadcast_id)
        .annotate(n=Count("answers"))
        .values_list("id", "n")
    )
    results = []
    for question in questions.prefetch_related("choices"):
        tallies = [ChoiceTally(c.id, c.label, counts.get(c.id, 0)) for c in question.choices.all()]
        results.append(
            QuestionResult(
                question_id=question.id,
                text=question.text,
                tallies=tallies,
                answered=sum(t.count for t in tallies),
                recipients=recipients,
            )
        )
    return results


@dataclass(frozen=True)
class RecipientAnswers:
    delivery: Delivery
    answers: dict[int, SurveyAnswer]  # question id -> answer

    def missing(self, question_ids: list[int]) -> bool:
        return any(question_id not in self.answers for question_id in question_ids)


def survey_answer_rows(*, broadcast_id: int, only_missing: bool = False, search: str = "") -> list[RecipientAnswers]:
    """Each recipient with their answers (and times); `only_missing`: those who have not answered
    every question (the non-responders a reminder goes to)."""
    question_ids = list(
        SurveyQuestion.objects.filter(survey__broadcast_id=broadcast_id)
        .order_by("position")
        .values_list("id", flat=True)
    )
    deliveries = Delivery.objects.filter(broadcast_id=broadcast_id).select_related("member").order_by("id")
    if search:
        deliveries = deliveries.filter(Q(address__icontains=search) | Q(member__name__icontains=search))
    answers: dict[int, dict[int, SurveyAnswer]] = {}
    for answer in SurveyAnswer.objects.filter(question_id__in=question_ids).select_related("choice"):
        answers.setdefault(answer.delivery_id, {})[answer.question_id] = answer
    rows = [RecipientAnswers(delivery=d, answers=answers.get(d.id, {})) for d in deliveries]
    if only_missing:
        rows = [row for row in rows if row.missing(question_ids)]
    return rows


def survey_non_responder_count(*, broadcast_id: int) -> int:
    questions = SurveyQuestion.objects.filter(survey__broadcast_id=broadcast_id).count()
    if not questions:
        return 0
    answered_all = (
        SurveyAnswer.objects.filter(question__survey__broadcast_id=broadcast_id)
        .values("delivery_id")
        .annotate(n=Count("id"))
        .filter(n__gte=questions)
        .count()
    )
    return Delivery.objects.filter(broadcast_id=broadcast_id).count() - answered_all


def survey_of(broadcast_id: int) -> Survey | None:
    return Survey.objects.filter(broadcast_id=broadcast_id).first()


def survey_last_answer_at(*, broadcast_id: int) -> datetime | None:
    return SurveyAnswer.objects.filter(question__survey__broadcast_id=broadcast_id).aggregate(last=Max("answered_at"))[
        "last"
    ]


# --- CSV (UTF-8 with BOM for Excel, CRLF; cells starting with = + - @ get a ' so no formula runs) ---


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _time(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _csv_lines(rows: Iterator[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield "\ufeff"
    for row in rows:
        writer.writerow([_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def read_csv(*, broadcast_id: int, labels: dict[str, str], header: list[str]) -> Iterator[str]:
    def rows():
        yield header
        for row in read_rows(broadcast_id=broadcast_id).iterator(chunk_size=2000):
            yield [
                row.address,
                row.member.name if row.member else "",
                labels[read_state(row)],
                _time(row.confirmed_at),
                _time(row.first_visit_at),
                row.visit_count or 0,
                row.status,
            ]

    return _csv_lines(rows())


def survey_csv(*, broadcast_id: int, labels: dict[str, str]) -> Iterator[str]:
    """address, name, then per question its answer and answer time, then the comments."""
    questions = list(SurveyQuestion.objects.filter(survey__broadcast_id=broadcast_id).order_by("position"))

    def rows():
        header = [labels["address"], labels["name"]]
        for question in questions:
            header += [question.text, f"{question.text} ({labels['time']})"]
        yield [*header, labels["comment"]]
        for row in survey_answer_rows(broadcast_id=broadcast_id):
            cells = [row.delivery.address, row.delivery.member.name if row.delivery.member else ""]
            for question in questions:
                answer = row.answers.get(question.id)
                cells += [answer.choice.label if answer else "", _time(answer.answered_at) if answer else ""]
            yield [*cells, " / ".join(a.comment for a in row.answers.values() if a.comment)]

    return _csv_lines(rows())


# --- Rates for a few broadcasts at once (the owner's dashboard) ------------------------------------


@dataclass(frozen=True)
class BroadcastRates:
    recipients: int
    read_confirmation: bool
    confirmed: int
    survey: bool
    answered: int  # recipients who answered at least one question

    @property
    def read_percent(self) -> int:
        return round(100 * self.confirmed / self.recipients) if self.recipients else 0

    @property
    def answer_percent(self) -> int:
        return round(100 * self.answered / self.recipients) if self.recipients else 0


def broadcast_rates(*, broadcast_ids: list[int]) -> dict[int, BroadcastRates]:
    """Read-confirmation and answer rates of these broadcasts, in five grouped queries whatever their count."""
    ids = list(broadcast_ids)
    recipients = dict(
        Delivery.objects.filter(broadcast_id__in=ids)
        .values("broadcast_id")
        .annotate(n=Count("id"))
        .values_list("broadcast_id", "n")
    )
    with_read = set(
        WebBroadcast.objects.filter(broadcast_id__in=ids, read_confirmation=True).values_list("pk", flat=True)
    )
    confirmed = dict(
        ReadConfirmation.objects.filter(broadcast_id__in=ids)
        .values("broadcast_id")
        .annotate(n=Count("delivery_id"))
        .values_list("broadcast_id", "n")
    )
    with_survey = set(Survey.objects.filter(broadcast_id__in=ids).values_list("pk", flat=True))
    answered = dict(
        SurveyAnswer.objects.filter(question__survey__broadcast_id__in=ids)
        .values("question__survey__broadcast_id")
        .annotate(n=Count("delivery_id", distinct=True))
        .values_list("question__survey__broadcast_id", "n")
    )
    return {
        broadcast_id: BroadcastRates(
            recipients=recipients.get(broadcast_id, 0),
            read_confirmation=broadcast_id in with_read,
            confirmed=confirmed.get(broadcast_id, 0),
            survey=broadcast_id in with_survey,
            answered=answered.get(broadcast_id, 0),
        )
        for broadcast_id in ids
    }
