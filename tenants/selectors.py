"""Reads for organizations."""

from __future__ import annotations

from django.conf import settings

from tenants.models import Organization


def organization_get_by_slug(*, slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def organization_list() -> list[Organization]:
    return list(Organization.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).order_by("slug"))
