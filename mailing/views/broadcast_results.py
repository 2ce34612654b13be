"""Console pages of read confirmations and survey results (F9, F10): counts, charts, per-recipient
tables, CSV, and the follow-ups (send again to those who have not confirmed, remind non-responders)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mailing.charts import bar_chart, timeline_chart
from mailing.errors import MailingUserError
from mailing.models import Broadcast, WebBroadcast
from mailing.selectors.broadcast_results import (
    read_csv,
    read_rows,
    read_state,
    read_summary,
    results_broadcast_id,
    survey_answer_rows,
    survey_csv,
    survey_last_answer_at,
    survey_non_responder_count,
    survey_of,
    survey_results,
)
from mailing.services.web_broadcasts import web_broadcast_follow_up_create
from mailing.views.broadcasts import query_without_page
from mailing.views.common import broadcast_for_user

PAGE_SIZE = 100


def _read_labels() -> dict[str, str]:
    return {
        "confirmed": _("confirmed"),
        "opened": _("link opened, not confirmed (may be automatic)"),
        "nothing": _("nothing"),
    }


def _options_broadcast(request: HttpRequest, broadcast_id: int) -> Broadcast:
    """The broadcast whose results are asked for (a follow-up's are those of the one it follows)."""
    broadcast = broadcast_for_user(request.user, broadcast_id)
    options_id = results_broadcast_id(broadcast.pk)
    return broadcast if options_id == broadcast.pk else broadcast_for_user(request.user, options_id)


def _timeline_span(broadcast: Broadcast, summary) -> tuple:
    """From the start of sending to now, at least 10 minutes; for an old broadcast whose last
    confirmation came long ago, to a little after that confirmation (the curve, not a flat tail)."""
    start = broadcast.started_at or broadcast.created_at
    end = timezone.now()
    if summary.timeline:
        last = summary.timeline[-1][0]
        if end - last > 2 * (last - start):
            end = last + (last - start) / 4
    return start, max(end, start + timedelta(minutes=10))


@login_required
def broadcast_reads(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = _options_broadcast(request, broadcast_id)
    web = WebBroadcast.objects.filter(broadcast=broadcast).first()
    if web is None or not web.read_confirmation:
        raise Http404
    state = request.GET.get("state", "")
    search = request.GET.get("q", "").strip()
    summary = read_summary(broadcast_id=broadcast.pk, started_at=broadcast.started_at)
    labels = _read_labels()
    page = Paginator(read_rows(broadcast_id=broadcast.pk, state=state, search=search), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    start, end = _timeline_span(broadcast, summary)
    context = {
        "broadcast": broadcast,
        "summary": summary,
        "rows": [(row, read_state(row), labels[read_state(row)]) for row in page],
        "page": page,
        "state": state,
        "search": search,
        "labels": labels,
        "count_chart": bar_chart(
            title=_("Read confirmation"),
            rows=[
                (labels["confirmed"], summary.confirmed),
                (_("opened only"), summary.opened),
                (labels["nothing"], summary.nothing),
            ],
            total=summary.recipients,
            last_is_rest=True,
        ),
        "timeline_chart": timeline_chart(
            title=_("Confirmations over time"), points=summary.timeline, start=start, end=end, total=summary.recipients
        ),
        "follow_ups": Broadcast.objects.filter(web__follow_up_of=broadcast, web__follow_up_kind="unconfirmed"),
        "query_string": query_without_page(request),
    }
    return render(request, "mailing/broadcasts/reads.html", context)


@login_required
def broadcast_reads_csv(request: HttpRequest, broadcast_id: int) -> StreamingHttpResponse:
    broadcast = _options_broadcast(request, broadcast_id)
    header = [
        _("Address"),
        _("Name"),
        _("Read confirmation"),
        _("Confirmed at"),
        _("First opened at"),
        _("Link openings"),
        _("Delivery"),
    ]
    lines = read_csv(broadcast_id=broadcast.pk, labels=_read_labels(), header=header)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="read-confirmation-{broadcast.pk}.csv"'
    return response


@login_required
def broadcast_survey(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = _options_broadcast(request, broadcast_id)
    survey = survey_of(broadcast.pk)
    if survey is None:
        raise Http404
    results = survey_results(broadcast_id=broadcast.pk)
    only_missing = request.GET.get("show") == "missing"
    search = request.GET.get("q", "").strip()
    rows = survey_answer_rows(broadcast_id=broadcast.pk, only_missing=only_missing, search=search)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    question_ids = [result.question_id for result in results]
    context = {
        "broadcast": broadcast,
        "survey": survey,
        "closed": survey.deadline is not None and timezone.now() > survey.deadline,
        "results": [
            (
                result,
                bar_chart(
                    title=result.text,
                    rows=[(t.label, t.count) for t in result.tallies] + [(_("no answer"), result.unanswered)],
                    total=result.recipients,
                    last_is_rest=True,
                ),
            )
            for result in results
        ],
        "page": page,
        "table": [(row, [row.answers.get(question_id) for question_id in question_ids]) for row in page],
        "questions": results,
        "only_missing": only_missing,
        "search": search,
        "non_responders": survey_non_responder_count(broadcast_id=broadcast.pk),
        "last_answer_at": survey_last_answer_at(broadcast_id=broadcast.pk),
        "follow_ups": Broadcast.objects.filter(web__follow_up_of=broadcast, web__follow_up_kind="survey_reminder"),
        "query_string": query_without_page(request),
    }
    return render(request, "mailing/broadcasts/survey.html", context)


@login_required
def broadcast_survey_csv(request: HttpRequest, broadcast_id: int) -> StreamingHttpResponse:
    broadcast = _options_broadcast(request, broadcast_id)
    labels = {"address": _("Address"), "name": _("Name"), "time": _("answered at"), "comment": _("Comments")}
    response = StreamingHttpResponse(
        survey_csv(broadcast_id=broadcast.pk, labels=labels), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="survey-{broadcast.pk}.csv"'
    return response


@login_required
@require_POST
def broadcast_follow_up(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    """A draft follow-up (send again to those who have not confirmed, or remind non-responders),
    previewed before it is sent or scheduled."""
    broadcast = _options_broadcast(request, broadcast_id)
    try:
        follow_up = web_broadcast_follow_up_create(
            broadcast=broadcast, kind=request.POST.get("kind", ""), actor=request.user
        )
    except MailingUserError as error:
        messages.error(request, str(error))
        return redirect("console:broadcast_detail", broadcast_id=broadcast.pk)
    return redirect("console:broadcast_preview", broadcast_id=follow_up.pk)
