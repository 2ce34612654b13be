"""Test set-up shared by the whole suite.

One test database; in it the public tenant, the template schema and two organizations created once
per session (`tenant`, `other_tenant`) and reused by every test (STYLE.md: one tenant schema, reused).

- `tenant_db`: the ordinary case. The test runs in `tenant`'s schema inside a transaction that is
  rolled back at the end.
- `committed_tenant`: for tests whose data must be seen by other threads or processes (the MX, a
  worker, a browser). Data is committed and not flushed (flushing would truncate the public schema
  too); such tests make their own rows with unique names through the factories.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import setup_databases

from accounts.services import organization_create_with_owner
from tenants.models import Organization
from tenants.services import public_tenant_ensure, template_schema_ensure

os.environ.setdefault("PLATFORM_TESTING", "1")
# Queues of this test run only, so two runs on one Redis never take each other's jobs.
os.environ.setdefault("DRAMATIQ_QUEUE_PREFIX", f"test{os.getpid()}-")

pytest_plugins = ["tests.mail_fixtures"]

TEST_PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker) -> None:
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django creates the test database only when a collected test uses `db` or the
            # django_db mark; a run of `committed_tenant` tests alone uses neither. Tear-down is
            # not needed: the next run recreates the test database.
            connection.close()
            setup_databases(verbosity=0, interactive=False, aliases={"default"})
        public_tenant_ensure()
        template_schema_ensure()
        for slug in ("test", "other"):
            organization_create_with_owner(
                slug=slug,
                name=f"{slug.title()} Organization",
                owner_username="owner",
                owner_email=f"owner@{slug}.example.com",
                owner_password=TEST_PASSWORD,
            )
        connection.set_schema_to_public()
    # Left in place like pytest-django leaves a database other threads still hold; the next run
    # replaces it.


def _organization(django_db_blocker, slug: str) -> Organization:
    with django_db_blocker.unblock():
        return Organization.objects.get(slug=slug)


@pytest.fixture(scope="session")
def tenant(django_db_setup, django_db_blocker) -> Organization:
    return _organization(django_db_blocker, "test")


@pytest.fixture(scope="session")
def other_tenant(django_db_setup, django_db_blocker) -> Organization:
    return _organization(django_db_blocker, "other")


@pytest.fixture
def tenant_db(db, tenant: Organization) -> Iterator[Organization]:
    connection.set_tenant(tenant)
    yield tenant
    connection.set_schema_to_public()


@pytest.fixture
def committed_tenant(django_db_setup, django_db_blocker, tenant: Organization) -> Iterator[Organization]:
    with django_db_blocker.unblock():
        connection.set_tenant(tenant)
        yield tenant
        connection.set_schema_to_public()


def tenant_host(organization: Organization) -> str:
    return organization.get_primary_domain().domain


@pytest.fixture
def tenant_client(tenant: Organization) -> Client:
    """A browser-less client speaking to `tenant`'s host name."""
    return Client(HTTP_HOST=tenant_host(tenant))
