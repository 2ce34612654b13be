"""Pages that links in mail open. No login: the per-recipient token is the credential."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mailing.selectors.deliveries import delivery_get_by_token
from mailing.services.unsubscribe import member_unsubscribe_by_delivery

ONE_CLICK = "One-Click"


# RFC 8058 §3.2: the mail provider POSTs `List-Unsubscribe=One-Click` without cookies or a CSRF
# token, so this one view is CSRF-exempt; the unguessable token in the URL authorizes it. A GET only
# shows a button (link scanners prefetch GETs; a GET never changes anything).
@csrf_exempt
@never_cache
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
