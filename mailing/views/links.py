"""Pages that links in mail open, mounted at /m/. No login: the link's token is the credential.

A GET only shows a page; the change happens on its POST button (RELIABILITY.md: link scanners
prefetch GETs). Expired or tampered links get a clear page, not an error.
- signed links in notices: moderation, join confirmation, leave (mailing.links.link_url);
- each copy's one-click unsubscribe (RFC 8058), found by its delivery's token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mailing.links import LinkExpiredError, LinkInvalidError, link_token_read
from mailing.models import InboundMessage, MailingList
from mailing.selectors.deliveries import delivery_get_by_token
from mailing.services.inbound.disposition import MODERATION_PURPOSE, moderation_decide
from mailing.services.inbound.membership import (
    JOIN_PURPOSE,
    LEAVE_LINK_MAX_AGE_SECONDS,
    LEAVE_PURPOSE,
    join_confirm,
    leave_confirm,
)
from mailing.services.inbound.parse import message_parse
from mailing.services.unsubscribe import member_unsubscribe_by_delivery

ONE_CLICK = "One-Click"


def link_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For every page a mail links to (the token in its URL is the credential).

    `Referrer-Policy: same-origin`: the URL (and its token) is never sent to another site, while the
    page's own POST still carries its Origin. `no-referrer` made chromium send `Origin: null` with
    that POST, which Django's CSRF check refuses: every button failed in a real browser. Not kept by
    caches (`no-store`), not indexed. tests/mailing/test_link_pages.py lists every page under /m/
    with the chromium test that presses its button.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Referrer-Policy"] = "same-origin"
        response["X-Robots-Tag"] = "noindex"
        return response

    return wrapped


def _page(request: HttpRequest, *, title: str, lines: list[str], actions=(), status: int = 200) -> HttpResponse:
    context = {"title": title, "lines": lines, "actions": list(actions)}
    return render(request, "mailing/link_page.html", context, status=status)


def _bad_link(request: HttpRequest, error: LinkInvalidError) -> HttpResponse:
    if isinstance(error, LinkExpiredError):
        return _page(
            request,
            title=_("This link has expired"),
            lines=[_("The link is too old to be used. Please ask again.")],
            status=410,
        )
    return _page(
        request,
        title=_("This link is not valid"),
        lines=[_("The link is incomplete or was changed. Please check that you copied all of it.")],
        status=404,
    )


@link_page
@require_http_methods(["GET", "POST"])
def moderate(request: HttpRequest, token: str) -> HttpResponse:
    try:
        payload = link_token_read(MODERATION_PURPOSE, token, max_age=settings.MAIL_MODERATION_MAX_AGE_SECONDS)
    except LinkInvalidError as error:
        return _bad_link(request, error)
    message = InboundMessage.objects.select_related("mailing_list").filter(id=payload.get("m")).first()
    if message is None or message.mailing_list is None:
        return _bad_link(request, LinkInvalidError("gone"))
    if request.method == "POST":
        action = request.POST.get("action")
        if action in {"approve", "reject"}:
            message = moderation_decide(inbound_message_id=message.id, approve=action == "approve", moderator="link")
    parsed = message_parse(bytes(message.raw))
    lines = [
        _("List: %(list)s") % {"list": f"{message.mailing_list.name} ({message.mailing_list.local_part})"},
        _("From: %(from)s") % {"from": parsed.from_address or message.envelope_from},
        _("Subject: %(subject)s") % {"subject": parsed.subject},
    ]
    if message.state == InboundMessage.State.HELD:
        actions = [("approve", _("Approve and distribute")), ("reject", _("Reject"))]
        return _page(request, title=_("A post is waiting for moderation"), lines=lines, actions=actions)
    outcome = {
        InboundMessage.State.DISTRIBUTED: _("This post was approved and distributed."),
        InboundMessage.State.REJECTED: _("This post was rejected."),
    }.get(message.state, _("This post is no longer waiting for moderation."))
    return _page(request, title=outcome, lines=lines)


def _membership_page(request: HttpRequest, token: str, *, purpose: str, max_age: int) -> HttpResponse:
    try:
        payload = link_token_read(purpose, token, max_age=max_age)
    except LinkInvalidError as error:
        return _bad_link(request, error)
    mailing_list = MailingList.objects.filter(id=payload.get("l")).first()
    address = str(payload.get("a", ""))
    if mailing_list is None or not address or mailing_list.archived_at is not None:
        # An archived list (read-only, sends nothing) takes no joins or leaves.
        return _bad_link(request, LinkInvalidError("gone"))
    lines = [_("List: %(list)s") % {"list": mailing_list.name}, _("Address: %(address)s") % {"address": address}]
    if request.method == "POST" and request.POST.get("action") == "confirm":
        if purpose == JOIN_PURPOSE:
            join_confirm(mailing_list_id=mailing_list.id, address=address)
            return _page(request, title=_("You have joined the list"), lines=lines)
        leave_confirm(mailing_list_id=mailing_list.id, address=address)
        return _page(request, title=_("You have left the list"), lines=lines)
    if purpose == JOIN_PURPOSE:
        return _page(request, title=_("Join the list?"), lines=lines, actions=[("confirm", _("Join"))])
    return _page(request, title=_("Leave the list?"), lines=lines, actions=[("confirm", _("Leave"))])


@link_page
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    return _membership_page(request, token, purpose=JOIN_PURPOSE, max_age=settings.MAIL_CONFIRMATION_MAX_AGE_SECONDS)


@link_page
@require_http_methods(["GET", "POST"])
def leave(request: HttpRequest, token: str) -> HttpResponse:
    return _membership_page(request, token, purpose=LEAVE_PURPOSE, max_age=LEAVE_LINK_MAX_AGE_SECONDS)


# RFC 8058 §3.2: the mail provider POSTs `List-Unsubscribe=One-Click` without cookies or a CSRF
# token, so this one view is CSRF-exempt; the unguessable token in the URL authorizes it. A GET only
# shows a button (link scanners prefetch GETs; a GET never changes anything).
@csrf_exempt
@link_page
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    delivery = delivery_get_by_token(token=token)
    if delivery is None:
        raise Http404
    # The recipient's own list: a web broadcast to several lists reached them through it (F7).
    mailing_list = delivery.member.mailing_list if delivery.member is not None else delivery.broadcast.mailing_list
    context = {"mailing_list": mailing_list, "address": delivery.address, "token": token}
    if request.method == "GET":
        context["already_left"] = delivery.member_id is None
        return render(request, "mailing/unsubscribe.html", context)
    if request.POST.get("List-Unsubscribe") != ONE_CLICK:
        return HttpResponseBadRequest("List-Unsubscribe=One-Click expected")
    member_unsubscribe_by_delivery(delivery=delivery)
    return render(request, "mailing/unsubscribe_done.html", context)
