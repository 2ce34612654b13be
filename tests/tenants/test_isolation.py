"""Tenants stay apart: a row made in one organization's schema is invisible from another's."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.db import connection
from django_tenants.utils import schema_context

from accounts.services import user_create
from mailing.models import MailingList
from tests.conftest import TEST_PASSWORD
from tests.factories import mailing_list_make


@pytest.mark.django_db
def test_list_created_in_one_organization_is_invisible_from_another(tenant, other_tenant):
    with schema_context(tenant.schema_name):
        created = mailing_list_make(local_part="isolation-probe")
        assert MailingList.objects.filter(pk=created.pk, local_part="isolation-probe").exists()
    with schema_context(other_tenant.schema_name):
        assert not MailingList.objects.filter(local_part="isolation-probe").exists()
    with schema_context(tenant.schema_name):
        assert MailingList.objects.filter(local_part="isolation-probe").count() == 1


@pytest.mark.django_db
def test_tenant_tables_do_not_exist_in_the_public_schema(tenant):
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = %s",
            [MailingList._meta.db_table],
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_users_of_one_organization_cannot_log_in_on_another(tenant, other_tenant):
    with schema_context(tenant.schema_name):
        user_create(username="only-in-test", email="only@test.example.com", password=TEST_PASSWORD)
        assert authenticate(username="only-in-test", password=TEST_PASSWORD) is not None
    with schema_context(other_tenant.schema_name):
        assert authenticate(username="only-in-test", password=TEST_PASSWORD) is None
