"""The pages that read-confirmation and survey links open (F9, F10). No login: the token is the credential.

- GET and HEAD log a visit and change nothing else (scanners in mail gateways fetch every link;
  some run scripts, so the pages have none). GET shows one button; only its POST records.
- Every bad link (malformed, tampered, unknown, another organization's token, a choice of another
  survey) gets the same page and status; an expired one (BROADCAST_LINK_RETENTION_DAYS) says so.
- `link_page` (mailing.views.links): `Referrer-Policy: same-origin` (Chromium must send the page's own
  origin with the POST, Django's CSRF check; the token never leaves for another site), no-store.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from mailing.errors import MailingUserError
from mailing.models import LinkVisit
from mailing.selectors.broadcast_links import (
    LinkRecipient,
    link_recipient_get,
    read_confirmation_get,
    survey_answer_get,
    survey_choice_get,
)
from mailing.services.broadcast_links import link_visit_record, read_confirm, survey_answer_record
from mailing.views.links import link_page


def _bad_link(request: HttpRequest) -> HttpResponse:
    return render(request, "mailing/links/bad_link.html", status=404)


@link_page
def bad_link(request: HttpRequest) -> HttpResponse:
    return _bad_link(request)


def _expired(request: HttpRequest, recipient: LinkRecipient) -> HttpResponse:
    return render(request, "mailing/links/expired.html", {"recipient": recipient}, status=410)


def _visit(request: HttpRequest, recipient: LinkRecipient, kind: str, choice_id: int | None = None) -> None:
    link_visit_record(
        recipient=recipient,
        kind=kind,
        method=request.method,
        user_agent=request.headers.get("User-Agent", ""),
        remote_address=request.META.get("REMOTE_ADDR"),
        choice_id=choice_id,
    )


def _head() -> HttpResponse:
    """HEAD: the headers a GET would have, no page (and nothing recorded but the visit)."""
    return HttpResponse(content_type="text/html; charset=utf-8")


@link_page
@require_http_methods(["GET", "HEAD", "POST"])
def read_confirmation(request: HttpRequest, token: str) -> HttpResponse:
    recipient = link_recipient_get(token=token)
    if recipient is None or not recipient.read_confirmation:
        return _bad_link(request)
    if recipient.expired:
        return _expired(request, recipient)
    if request.method == "POST":
        read_confirm(
            recipient=recipient,
            user_agent=request.headers.get("User-Agent", ""),
            remote_address=request.META.get("REMOTE_ADDR"),
        )
        return redirect(request.path + "?done=1", permanent=False)
    _visit(request, recipient, LinkVisit.Kind.READ)
    if request.method == "HEAD":
        return _head()
    confirmation = read_confirmation_get(delivery_id=recipient.delivery_id)
    context = {"recipient": recipient, "broadcast": recipient.broadcast, "confirmation": confirmation}
    return render(request, "mailing/links/read_confirmation.html", context)


@link_page
@require_http_methods(["GET", "HEAD", "POST"])
def survey_choice(request: HttpRequest, token: str, choice_id: int) -> HttpResponse:
    recipient = link_recipient_get(token=token)
    choice = survey_choice_get(broadcast_id=recipient.broadcast.id, choice_id=choice_id) if recipient else None
    if recipient is None or choice is None:
        return _bad_link(request)
    if recipient.expired:
        return _expired(request, recipient)
    survey = choice.question.survey
    closed = survey.deadline is not None and timezone.now() > survey.deadline
    error = ""
    if request.method == "POST":
        chosen_id = _int(request.POST.get("choice"))
        chosen = (
            choice
            if chosen_id == choice.id
            else survey_choice_get(broadcast_id=recipient.broadcast.id, choice_id=chosen_id)
        )
        if chosen is None or chosen.question_id != choice.question_id:
            error = "choose"
        else:
            try:
                survey_answer_record(
                    recipient=recipient,
                    choice=chosen,
                    comment=request.POST.get("comment", "") if survey.allow_comment else "",
                    deadline=survey.deadline,
                    user_agent=request.headers.get("User-Agent", ""),
                    remote_address=request.META.get("REMOTE_ADDR"),
                )
            except MailingUserError:
                closed = True
            else:
                return redirect(f"/m/s/{token}/{chosen.id}/?done=1", permanent=False)
    else:
        _visit(request, recipient, LinkVisit.Kind.SURVEY, choice.id)
        if request.method == "HEAD":
            return _head()
    answer = survey_answer_get(question_id=choice.question_id, delivery_id=recipient.delivery_id)
    context = {
        "recipient": recipient,
        "broadcast": recipient.broadcast,
        "survey": survey,
        "question": choice.question,
        "choices": list(choice.question.choices.all()),
        "selected_id": choice.id,
        "answer": answer,
        "closed": closed,
        "error": error,
        "done": request.GET.get("done") == "1" and answer is not None,
    }
    return render(request, "mailing/links/survey.html", context, status=200)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
