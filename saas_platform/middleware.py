"""Per-request set-up of organization hosts: language, time zone and caching of console pages."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers

from saas_platform.mail import OutboundMailUnavailableError

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}
# Paths under these prefixes are not console pages (static files, recipients' links in mails).
NOT_CONSOLE = ("/static/", "/m/", "/healthz")


class ConsoleMiddleware:
    """Activates the person's language (their profile, else the cookie or browser choice read by
    LocaleMiddleware, else the organization's) and the organization's time zone, and marks every
    console response `Cache-Control: no-store` so that after logout Back and the history show
    nothing (F12)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        organization = getattr(request, "tenant", None)
        is_organization = organization is not None and organization.schema_name != settings.PUBLIC_SCHEMA_NAME
        if is_organization:
            self._activate(request, organization)
        response = self.get_response(request)
        if is_organization and not request.path.startswith(NOT_CONSOLE):
            add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
            response["Vary"] = ", ".join(filter(None, [response.get("Vary"), "Cookie"]))
        return response

    def _activate(self, request: HttpRequest, organization) -> None:
        language = ""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            profile = getattr(user, "profile", None)
            language = getattr(profile, "language", "") or ""
        # Without a profile choice, a language cookie (the switcher) or the browser's Accept-Language
        # (LocaleMiddleware has read both), the organization's language applies.
        if (
            not language
            and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
            and not request.headers.get("Accept-Language")
        ):
            language = organization.language
        if language in LANGUAGE_CODES:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        try:
            timezone.activate(zoneinfo.ZoneInfo(organization.time_zone or settings.TIME_ZONE))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo(settings.TIME_ZONE))


class TryAgainLaterMiddleware:
    """Our own faults that a person can wait out answer a clear "try again later" page (503 with
    Retry-After), never a 500: today a mail that could be neither sent nor queued."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OutboundMailUnavailableError):
            return None
        response = render(request, "try_again_later.html", status=503)
        response["Retry-After"] = "120"
        return response
