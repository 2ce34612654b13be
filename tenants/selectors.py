"""Reads for organizations."""

from __future__ import annotations

from django.conf import settings
from django_tenants.utils import schema_context

from tenants.models import Domain, Organization


def organization_get_by_slug(*, slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def domain_schema_name(*, domain: str) -> str | None:
    """The schema of the organization that owns this host name; None for unknown names and the platform's own."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        row = Domain.objects.filter(domain=domain).select_related("tenant").first()
    if row is None or row.tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return None
    return row.tenant.schema_name
