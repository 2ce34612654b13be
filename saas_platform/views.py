from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import policy


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
    from org_groups.selectors import dashboard_recent_broadcasts, group_admin_group_ids, tree_for

    owner = policy.is_owner(request.user)
    if owner:
        nodes, loose = tree_for()
        recent = dashboard_recent_broadcasts()
    else:
        managed = set(policy.lists_managed(request.user).values_list("pk", flat=True))
        nodes, loose = tree_for(list_ids=managed, group_ids=group_admin_group_ids(request.user))
        recent = dashboard_recent_broadcasts(list_ids=managed)
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
            "is_owner": owner,
        },
    )


@login_required
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Keep the chosen interface language in the person's profile (and a cookie for the login page)."""
    from accounts.services import profile_language_set

    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    response = redirect(next_url)
    if language in dict(settings.LANGUAGES):
        profile_language_set(user=request.user, language=language)
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response


@login_required
def dev_mail(request: HttpRequest) -> HttpResponse:
    """DEBUG only, owners only: the mails kept by the local catcher (mailing/catcher.py)."""
    if not settings.DEBUG:
        raise Http404
    policy.require(policy.dev_mail_can_view(request.user))
    from email import message_from_bytes
    from email import policy as email_policy

    from mailing.catcher import caught_mail_list

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
