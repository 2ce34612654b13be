from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import policy
from audit.selectors import audit_actions, audit_events_filter
from mailing.models import MailingList


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
    return render(
        request,
        template,
        {
            "page": page,
            "filters": filters,
            "query": urlencode({key: value for key, value in filters.items() if value}),
            "actions": audit_actions(),
            "lists": MailingList.objects.order_by("name"),
            "list_names": dict(MailingList.objects.values_list("pk", "name")),
        },
    )
