"""Public site pages of accounts (the platform's own host): sign-up with e-mail verification."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import SignupForm
from accounts.signup import (
    signup_confirm,
    signup_for_token,
    signup_mail_send,
    signup_rate_allow,
    signup_start,
    signup_token_renew,
)
from tenants.errors import TenantsUserError
from tenants.selectors import signup_pending_get

SESSION_KEY = "signup_id"


def _link(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("signup_confirm", kwargs={"token": token}))


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if not signup_rate_allow(client=request.META.get("REMOTE_ADDR", "")):
                raise TenantsUserError(_("Too many sign-ups from your network; try again in an hour."))
            pending, token = signup_start(
                organization_name=data["organization_name"],
                slug=data["slug"],
                username=data["username"],
                email=data["email"],
                password=data["password"],
                language=get_language() or settings.LANGUAGE_CODE,
            )
        except TenantsUserError as error:
            form.add_error(None, str(error))
        else:
            request.session[SESSION_KEY] = pending.pk
            sent = signup_mail_send(signup=pending, link=_link(request, token))
            return redirect(f"{reverse('signup_sent')}{'' if sent else '?failed=1'}")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def signup_sent(request: HttpRequest) -> HttpResponse:
    """ "Check your mail"; its button sends the mail again (a new link) when it did not arrive."""
    pending = signup_pending_get(signup_id=request.session.get(SESSION_KEY))
    failed = request.GET.get("failed") == "1"
    if request.method == "POST" and pending is not None:
        failed = not signup_mail_send(signup=pending, link=_link(request, signup_token_renew(signup=pending)))
        return redirect(f"{reverse('signup_sent')}{'?failed=1' if failed else '?again=1'}")
    return render(
        request, "accounts/signup_sent.html", {"pending": pending, "failed": failed, "again": "again" in request.GET}
    )


def signup_confirm_page(request: HttpRequest, token: str) -> HttpResponse:
    """The page the verification mail links to. A GET changes nothing (mail scanners open links)."""
    pending = signup_for_token(token=token)
    return render(request, "accounts/signup_confirm.html", {"pending": pending, "token": token})


@require_POST
def signup_confirm_post(request: HttpRequest, token: str) -> HttpResponse:
    try:
        created = signup_confirm(token=token)
    except TenantsUserError as error:
        return render(request, "accounts/signup_confirm.html", {"pending": None, "error": str(error)}, status=400)
    request.session.pop(SESSION_KEY, None)
    port = request.get_port()
    default_port = "443" if request.is_secure() else "80"
    host = created.domain.domain + (f":{port}" if port != default_port else "")
    login = f"{request.scheme}://{host}{reverse('account_login', urlconf=settings.ROOT_URLCONF)}"
    return render(request, "accounts/signup_done.html", {"organization": created.organization, "login_url": login})
