"""What every background job uses to enter its organization's schema.

Jobs carry the schema name as their first argument (DESIGN.md). A job must never run against the
public schema or a schema that is not an organization's: `tenant_context` refuses both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context


class TenantJobError(Exception):
    """A job was asked to run outside an organization's schema."""


@contextlib.contextmanager
def tenant_context(schema_name: str) -> Iterator[None]:
    from tenants.models import Organization

    if schema_name in {settings.PUBLIC_SCHEMA_NAME, settings.TENANT_TEMPLATE_SCHEMA}:
        raise TenantJobError(f"refusing to run a tenant job in the {schema_name!r} schema")
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        organization = Organization.objects.filter(schema_name=schema_name).first()
    if organization is None:
        raise TenantJobError(f"no organization has the schema {schema_name!r}")
    with schema_context(schema_name):
        connection.tenant = organization  # so services can read the organization (domain, time zone)
        yield
