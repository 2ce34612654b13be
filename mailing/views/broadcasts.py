"""Console pages of broadcasts: compose, preview, send or schedule (F7, F11), the send history and a
broadcast's page with its live progress (F8). Every view asks accounts.policy first."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from mailing.broadcast_forms import BroadcastComposeForm, BroadcastScheduleForm, HistorySearchForm
from mailing.errors import MailingUserError
from mailing.models import Broadcast, Survey, WebBroadcast
from mailing.selectors.broadcast_preview import broadcast_preview_render
from mailing.selectors.broadcast_results import read_summary, survey_non_responder_count, survey_results
from mailing.selectors.broadcasts import (
    HistoryFilter,
    broadcast_channel_label,
    broadcast_lists,
    broadcast_progress,
    broadcast_recipients,
    broadcasts_history,
    broadcasts_visible_to,
    delivery_counts,
)
from mailing.selectors.lists import lists_managed_by
from mailing.services.broadcast_recipients import recipients_preview
from mailing.services.inbound.parse import message_parse
from mailing.services.web_broadcasts import (
    EDITABLE,
    AttachmentInput,
    web_broadcast_cancel,
    web_broadcast_draft_save,
    web_broadcast_schedule,
    web_broadcast_send_now,
)
from mailing.views.common import broadcast_for_user

PAGE_SIZE = 50


@dataclass(frozen=True)
class BroadcastContentView:
    subject: str
    text: str
    attachments: list[tuple[str, int]]  # (file name, size)


def broadcast_content_view(broadcast: Broadcast) -> BroadcastContentView:
    """What was sent, for the detail page: a web broadcast's text and files, or a mail post's parsed."""
    if broadcast.channel == Broadcast.Channel.WEB:
        attachments = list(broadcast.attachments.order_by("id").values_list("filename", "size"))
        return BroadcastContentView(subject=broadcast.subject, text=broadcast.body_text, attachments=attachments)
    if broadcast.inbound_message_id is None:
        return BroadcastContentView(subject=broadcast.subject, text="", attachments=[])
    parsed = message_parse(bytes(broadcast.inbound_message.raw))
    return BroadcastContentView(
        subject=parsed.subject or broadcast.subject,
        text=parsed.text[:50_000],
        attachments=[(a.filename, a.size) for a in parsed.attachments],
    )


def query_without_page(request: HttpRequest) -> str:
    """The page's query string without `page`, for the pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _list_choices(request: HttpRequest) -> list[tuple[int, str]]:
    return list(lists_managed_by(request.user).order_by("name").values_list("pk", "name"))


def _limit_text() -> str:
    return f"{settings.BROADCAST_ATTACHMENTS_MAX_BYTES / 1_000_000:g} MB"


def _compose(request: HttpRequest, broadcast: Broadcast | None) -> HttpResponse:
    choices = _list_choices(request)
    web = WebBroadcast.objects.filter(broadcast=broadcast).first() if broadcast else None
    initial = None
    if broadcast is not None:
        initial = BroadcastComposeForm.initial_from(
            broadcast,
            list_ids=list(web.lists.values_list("pk", flat=True)) if web else [broadcast.mailing_list_id],
            survey=Survey.objects.filter(broadcast=broadcast).first(),
            read_confirmation=bool(web and web.read_confirmation),
        )
    form = BroadcastComposeForm(request.POST or None, initial=initial, list_choices=choices)
    if request.method == "POST" and form.is_valid():
        files = request.FILES.getlist("attachments")
        if sum(upload.size for upload in files) > settings.BROADCAST_ATTACHMENTS_MAX_BYTES:
            form.add_error(None, _("Attachments may be at most %(limit)s in all.") % {"limit": _limit_text()})
        else:
            chosen = {int(pk) for pk in form.cleaned_data["lists"]}
            sendable = lists_managed_by(request.user).order_by("name")
            lists = [mailing_list for mailing_list in sendable if mailing_list.pk in chosen]
            try:
                broadcast = web_broadcast_draft_save(
                    actor=request.user,
                    broadcast=broadcast,
                    lists=lists,
                    subject=form.cleaned_data["subject"],
                    body_text=form.cleaned_data["body_text"],
                    read_confirmation=form.cleaned_data["read_confirmation"],
                    questions=form.questions(),
                    survey_deadline=form.cleaned_data["survey_deadline"],
                    survey_allow_comment=form.cleaned_data["survey_allow_comment"],
                    new_attachments=[
                        AttachmentInput(filename=f.name, content_type=f.content_type or "", data=f.read())
                        for f in files
                    ],
                    removed_attachment_ids=[
                        int(pk) for pk in request.POST.getlist("remove_attachment") if pk.isdigit()
                    ],
                )
            except MailingUserError as error:
                form.add_error(None, str(error))
            else:
                return redirect("console:broadcast_preview", broadcast_id=broadcast.pk)
    context = {
        "form": form,
        "broadcast": broadcast,
        "follow_up": web.follow_up_of if web and web.follow_up_of_id else None,
        "attachments": broadcast.attachments.all() if broadcast else [],
        "limit_bytes": settings.BROADCAST_ATTACHMENTS_MAX_BYTES,
        "limit_text": _limit_text(),
        "has_lists": bool(choices),
    }
    return render(request, "mailing/broadcasts/compose.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def broadcast_compose(request: HttpRequest) -> HttpResponse:
    return _compose(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def broadcast_edit(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = broadcast_for_user(request.user, broadcast_id)
    if broadcast.channel != Broadcast.Channel.WEB or broadcast.state not in EDITABLE:
        messages.error(request, _("This broadcast was sent or cancelled and can no longer be changed."))
        return redirect("console:broadcast_detail", broadcast_id=broadcast.pk)
    return _compose(request, broadcast)


@login_required
def broadcast_preview(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = broadcast_for_user(request.user, broadcast_id)
    if broadcast.channel != Broadcast.Channel.WEB or broadcast.state not in EDITABLE:
        return redirect("console:broadcast_detail", broadcast_id=broadcast.pk)
    count, first = recipients_preview(broadcast)
    web = WebBroadcast.objects.select_related("follow_up_of").get(broadcast=broadcast)
    default_at = broadcast.scheduled_at or (timezone.now() + timezone.timedelta(hours=1)).replace(
        minute=0, second=0, microsecond=0
    )
    context = {
        "broadcast": broadcast,
        "web": web,
        "lists": broadcast_lists(broadcast),
        "recipient_count": count,
        "preview": broadcast_preview_render(broadcast, first),
        "schedule_form": BroadcastScheduleForm(initial={"at": timezone.localtime(default_at)}),
    }
    return render(request, "mailing/broadcasts/preview.html", context)


@login_required
@require_POST
def broadcast_send(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = broadcast_for_user(request.user, broadcast_id)
    try:
        web_broadcast_send_now(broadcast=broadcast, actor=request.user)
    except MailingUserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The broadcast is being sent."))
    return redirect("console:broadcast_detail", broadcast_id=broadcast.pk)


@login_required
@require_POST
def broadcast_schedule(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = broadcast_for_user(request.user, broadcast_id)
    form = BroadcastScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the date and time to send at."))
        return redirect("console:broadcast_preview", broadcast_id=broadcast.pk)
    try:
        broadcast = web_broadcast_schedule(broadcast=broadcast, at=form.cleaned_data["at"], actor=request.user)
    except MailingUserError as error:
        messages.error(request, str(error))
        return redirect("console:broadcast_preview", broadcast_id=broadcast.pk)
    when = timezone.localtime(broadcast.scheduled_at).strftime("%Y-%m-%d %H:%M")
    messages.success(request, _("The broadcast is scheduled for %(when)s.") % {"when": when})
    return redirect("console:broadcast_detail", broadcast_id=broadcast.pk)


@login_required
@require_POST
def broadcast_cancel(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = broadcast_for_user(request.user, broadcast_id)
    try:
        cancelled = web_broadcast_cancel(broadcast=broadcast, actor=request.user)
    except MailingUserError as error:
        messages.error(request, str(error))
    else:
        if cancelled is None:
            messages.success(request, _("The draft was discarded."))
            return redirect("console:broadcast_history")
        messages.success(request, _("The broadcast was cancelled; it will not be sent."))
    return redirect("console:broadcast_detail", broadcast_id=broadcast.pk)


@login_required
def broadcast_history(request: HttpRequest) -> HttpResponse:
    """F8: every broadcast of the lists this person manages, from mail and from the console."""
    choices = list(lists_managed_by(request.user).order_by("name").values_list("pk", "name"))
    form = HistorySearchForm(request.GET or None, list_choices=choices)
    query = HistoryFilter()
    if form.is_valid():
        data = form.cleaned_data
        query = HistoryFilter(
            text=data["q"].strip(),
            sender=data["sender"].strip(),
            list_id=data["list"],
            channel=data["channel"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
    page = Paginator(broadcasts_history(broadcasts_visible_to(request.user), query), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    counts = delivery_counts([broadcast.pk for broadcast in page])
    rows = [(broadcast, broadcast_channel_label(broadcast), counts[broadcast.pk]) for broadcast in page]
    context = {"form": form, "page": page, "rows": rows, "query_string": query_without_page(request)}
    template = "mailing/broadcasts/_history_table.html" if request.htmx else "mailing/broadcasts/history.html"
    return render(request, template, context)


@login_required
def broadcast_scheduled_list(request: HttpRequest) -> HttpResponse:
    scheduled = (
        broadcasts_visible_to(request.user)
        .filter(state=Broadcast.State.SCHEDULED)
        .select_related("mailing_list", "author_user")
        .order_by("scheduled_at")
    )
    drafts = (
        broadcasts_visible_to(request.user)
        .filter(state=Broadcast.State.DRAFT, author_user=request.user)
        .select_related("mailing_list")
        .order_by("-created_at")[:20]
    )
    return render(request, "mailing/broadcasts/scheduled.html", {"scheduled": scheduled, "drafts": drafts})


@login_required
def broadcast_detail(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = broadcast_for_user(request.user, broadcast_id)
    if broadcast.state == Broadcast.State.DRAFT:
        return redirect("console:broadcast_preview", broadcast_id=broadcast.pk)
    web = WebBroadcast.objects.select_related("follow_up_of").filter(broadcast=broadcast).first()
    status = request.GET.get("status", "")
    search = request.GET.get("q", "").strip()
    recipients = Paginator(broadcast_recipients(broadcast_id=broadcast.pk, status=status, search=search), PAGE_SIZE)
    options_id = web.options_broadcast_id if web else broadcast.pk
    has_survey = Survey.objects.filter(broadcast_id=options_id).exists()
    context = {
        "broadcast": broadcast,
        "web": web,
        "channel": broadcast_channel_label(broadcast),
        "lists": broadcast_lists(broadcast),
        "content": broadcast_content_view(broadcast),
        "progress": broadcast_progress(broadcast_id=broadcast.pk),
        "recipients": recipients.get_page(request.GET.get("page")),
        "status": status,
        "search": search,
        "follow_ups": Broadcast.objects.filter(web__follow_up_of=broadcast).order_by("created_at"),
        "read": read_summary(broadcast_id=options_id, started_at=broadcast.started_at)
        if web and web.read_confirmation
        else None,
        "survey": survey_results(broadcast_id=options_id) if has_survey else None,
        "non_responders": survey_non_responder_count(broadcast_id=options_id) if has_survey else 0,
        "options_id": options_id,
        "query_string": query_without_page(request),
    }
    return render(request, "mailing/broadcasts/detail.html", context)


@login_required
def broadcast_progress_partial(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    """The progress bar, polled by htmx every second while the fan-out runs (it stops polling when done)."""
    broadcast = broadcast_for_user(request.user, broadcast_id)
    context = {"broadcast": broadcast, "progress": broadcast_progress(broadcast_id=broadcast.pk)}
    return render(request, "mailing/broadcasts/_progress.html", context)
