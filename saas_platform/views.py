"""The console's shell and the platform's own pages: the dashboard, language, the audit log, dev mail.

Pages that span apps are composed here (the top layer): each app's own pages live in its views.
"""

from __future__ import annotations

from datetime import date
from email import message_from_bytes
from email import policy as email_policy
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import policy
from accounts.services import profile_language_set
from audit.selectors import audit_actions, audit_events_filter
from mailing.catcher import caught_mail_list
from mailing.models import Broadcast
from mailing.selectors.broadcast_results import broadcast_rates
from mailing.selectors.broadcasts import broadcasts_visible_to
from mailing.selectors.lists import list_names
from org_groups.selectors import group_admin_group_ids, tree_for

# Broadcasts listed on the dashboard, with their read and answer rates.
RECENT_BROADCASTS = 10


def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "schema": connection.schema_name})


def platform_home(request: HttpRequest) -> HttpResponse:
    return render(request, "platform_home.html")


@login_required
def console_home(request: HttpRequest) -> HttpResponse:
    """The dashboard: the group tree with its lists, member counts and last broadcasts (owners: every
    group and list, and the latest broadcasts; others: the groups and lists they manage)."""
    scope = policy.list_scope(request.user)
    if scope.every_list:
        nodes, loose = tree_for()
    else:
        nodes, loose = tree_for(list_ids=scope.list_ids, group_ids=group_admin_group_ids(request.user))
    recent = list(
        broadcasts_visible_to(request.user)
        .filter(state__in=[Broadcast.State.SENDING, Broadcast.State.SENT])
        .select_related("mailing_list")
        .order_by("-created_at", "-id")[:RECENT_BROADCASTS]
    )
    rates = broadcast_rates(broadcast_ids=[broadcast.pk for broadcast in recent])
    for broadcast in recent:
        broadcast.rates = rates[broadcast.pk]
    member_total = sum(node.member_total for node in nodes) + sum(node.member_total for node in loose)
    list_total = sum(1 for node in nodes if node.mailing_list) + len(loose)
    return render(
        request,
        "console_home.html",
        {
            "organization": request.tenant,
            "nodes": nodes,
            "loose": loose,
            "recent": recent,
            "member_total": member_total,
            "list_total": list_total,
            "domain": request.tenant.get_primary_domain().domain,
            "can_create_list": policy.list_can_create(request.user),
            "is_owner": scope.every_list,
        },
    )


@login_required
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Keep the chosen interface language in the person's profile (and a cookie for the login page)."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    response = redirect(next_url)
    if language in dict(settings.LANGUAGES):
        profile_language_set(user=request.user, language=language)
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@login_required
def audit_event_list(request: HttpRequest) -> HttpResponse:
    """Owners only: every console change, filterable by action, person, list and dates."""
    policy.require(policy.audit_can_view(request.user))
    list_id = request.GET.get("list", "")
    filters = {
        "action": request.GET.get("action", ""),
        "actor": request.GET.get("actor", "").strip(),
        "list": list_id,
        "from": request.GET.get("from", ""),
        "to": request.GET.get("to", ""),
    }
    events = audit_events_filter(
        action=filters["action"],
        actor=filters["actor"],
        mailing_list_id=int(list_id) if list_id.isdigit() else None,
        date_from=_date(filters["from"]),
        date_to=_date(filters["to"]),
    )
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    template = "audit/_events.html" if request.htmx else "audit/events.html"
    names = list_names()
    return render(
        request,
        template,
        {
            "page": page,
            "filters": filters,
            "query": urlencode({key: value for key, value in filters.items() if value}),
            "actions": audit_actions(),
            "lists": [{"pk": pk, "name": name} for pk, name in names.items()],
            "list_names": names,
        },
    )


@login_required
def dev_mail(request: HttpRequest) -> HttpResponse:
    """DEBUG only, owners only: the mails kept by the local catcher (mailing/catcher.py)."""
    if not settings.DEBUG:
        raise Http404
    policy.require(policy.dev_mail_can_view(request.user))
    mails = []
    for path in caught_mail_list(settings.MAIL_CATCHER_DIR):
        message = message_from_bytes(path.read_bytes(), policy=email_policy.default)
        body = message.get_body(preferencelist=("plain", "html"))
        mails.append(
            {
                "name": path.name,
                "to": message.get("X-Catcher-Rcpt-To", ""),
                "from": message.get("From", ""),
                "subject": message.get("Subject", ""),
                "body": body.get_content()[:4000] if body is not None else "",
            }
        )
    return render(request, "dev_mail.html", {"mails": mails})
