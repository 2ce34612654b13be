"""allauth behaviour for organization hosts."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Console users are added by owners and list admins (invitations), never by self-sign-up.
        return False

    def format_email_subject(self, subject: str) -> str:
        return f"[{_site(allauth_context.request).name}] {subject}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        super().send_mail(template_prefix, email, {"current_site": _site(allauth_context.request), **context})


@dataclass(frozen=True)
class _Site:
    name: str
    domain: str


def _site(request) -> _Site:
    """What allauth's mails call "the site": the organization (its name), not the host and port."""
    site = get_current_site(request)
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return _Site(name=site.name, domain=site.domain)
    return _Site(name=tenant.name, domain=site.domain)
