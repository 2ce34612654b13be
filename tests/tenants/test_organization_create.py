"""Creating organizations: schema, domain, DKIM key and an owner account; bad input is refused."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_tenants.utils import schema_context, schema_exists

from tenants.errors import TenantsUserError
from tenants.models import Domain, Organization
from tenants.services import organization_create
from tests.factories import mailing_list_make

pytestmark = pytest.mark.django_db


def test_create_organization_command_makes_schema_domain_and_owner():
    call_command(
        "create_organization",
        slug="acme-sales",
        name="ACME 営業部",
        owner_email="boss@acme.example",
        owner_password="a-long-owner-password",
    )
    organization = Organization.objects.get(slug="acme-sales")
    assert organization.name == "ACME 営業部"
    assert schema_exists("org_acme_sales")
    domain = Domain.objects.get(tenant=organization)
    assert domain.domain == "acme-sales.localhost"
    assert domain.is_primary
    assert "BEGIN PRIVATE KEY" in domain.dkim_private_key
    assert domain.dkim_dns_record().startswith("v=DKIM1; k=rsa; p=MII")
    with schema_context("org_acme_sales"):
        owner = authenticate(username="boss@acme.example", password="a-long-owner-password")
        assert owner is not None
        assert owner.profile.is_owner
        assert authenticate(username="boss", password="wrong-password") is None


def test_cloned_schema_is_fully_migrated():
    created = organization_create(slug="migrated-check", name="M")
    with schema_context(created.organization.schema_name):
        executor = MigrationExecutor(connection)
        assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


@pytest.mark.parametrize("slug", ["", "a", "a_b", "-lead", "trail-", "has space", "www", "admin", "x" * 41, "日本"])
def test_bad_slug_is_refused_with_a_clear_error(slug):
    with pytest.raises(TenantsUserError, match="not a usable organization id"):
        organization_create(slug=slug, name="x")


def test_duplicate_slug_is_refused():
    organization_create(slug="twice", name="x")
    with pytest.raises(TenantsUserError, match="already exists"):
        organization_create(slug="twice", name="y")
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "create_organization", slug="twice", name="z", owner_email="q@x.example", owner_password="a-long-pass-1"
        )


def _schema_shape(schema: str) -> dict[str, list]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_nullable, is_identity FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY 1, 2",
            [schema],
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname, con.contype, pg_get_constraintdef(con.oid) FROM pg_constraint con "
            "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s ORDER BY 1, 2, 3",
            [schema],
        )
        constraints = [(table, kind, definition.replace(f"{schema}.", "")) for table, kind, definition in cursor]
        cursor.execute(
            "SELECT tablename, regexp_replace(indexdef, 'INDEX \\S+ ON \\S+\\.', 'INDEX ON ') FROM pg_indexes "
            "WHERE schemaname = %s ORDER BY 1, 2",
            [schema],
        )
        indexes = cursor.fetchall()
    return {"columns": columns, "constraints": constraints, "indexes": indexes}


def test_cloned_schema_has_the_template_structure_and_working_ids(tenant):
    template = _schema_shape("tenant_template")
    clone = _schema_shape(tenant.schema_name)
    assert clone["columns"] == template["columns"]
    assert clone["constraints"] == template["constraints"]
    assert sorted(clone["indexes"]) == sorted(template["indexes"])
    assert any(kind == "f" for _, kind, _ in clone["constraints"])  # foreign keys were recreated
    with schema_context(tenant.schema_name):
        assert ContentType.objects.filter(app_label="mailing", model="member").exists()
        first, second = mailing_list_make(), mailing_list_make()
        assert second.pk == first.pk + 1
