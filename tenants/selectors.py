"""Reads for organizations, and sign-ups waiting for their confirmation."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django_tenants.utils import schema_context

from tenants.models import Domain, Organization, Signup


def organization_get_by_slug(*, slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def domain_schema_name(*, domain: str) -> str | None:
    """The schema of the organization that owns this host name; None for unknown names and the platform's own."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        row = Domain.objects.filter(domain=domain).select_related("tenant").first()
    if row is None or row.tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return None
    return row.tenant.schema_name


def signup_pending_by_digest(*, token_digest: str, since: datetime, lock: bool = False) -> Signup | None:
    """The unconfirmed sign-up made after `since` whose link token has this digest."""
    signups = Signup.objects.filter(token_digest=token_digest, confirmed_at__isnull=True, created_at__gte=since)
    if lock:
        signups = signups.select_for_update()
    return signups.first()


def signup_pending_get(*, signup_id: int | None) -> Signup | None:
    if signup_id is None:
        return None
    return Signup.objects.filter(pk=signup_id, confirmed_at__isnull=True).first()
