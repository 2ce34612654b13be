"""`manage.py seed_demo`: the demo list with exactly N active members and a sender, idempotently."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from accounts.services import organization_create_with_owner
from mailing.models import MailingList, Member, Sender
from tenants.selectors import organization_get_by_slug


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_is_idempotent_and_leaves_exactly_n_seeded_members(committed_tenant):
    connection.set_schema_to_public()
    if organization_get_by_slug(slug="demo") is None:
        organization_create_with_owner(
            slug="demo", name="Demo", owner_username="owner", owner_email="o@example.com", owner_password="x" * 20
        )
    demo = organization_get_by_slug(slug="demo")

    assert "all@demo.localhost: 5 active members" in seed()
    assert "all@demo.localhost: 5 active members" in seed()
    assert "all@demo.localhost: 1200 active members" in seed("--members", "1200", "--sender", "boss@example.org")
    with schema_context(demo.schema_name):
        mailing_list = MailingList.objects.get(local_part="all")
        hand_added = Member.objects.create(
            mailing_list=mailing_list, address="by-hand@example.org", address_normalized="by-hand@example.org"
        )
        Member.objects.filter(address="demo-member-3@example.com").update(status=Member.Status.SUSPENDED)
    assert "all@demo.localhost: 31 active members" in seed("--members", "30")
    with schema_context(demo.schema_name):
        members = Member.objects.filter(mailing_list=mailing_list)
        assert members.count() == 31
        assert members.filter(status=Member.Status.ACTIVE).count() == 31
        assert members.filter(id=hand_added.id).exists()
        senders = set(Sender.objects.filter(mailing_list=mailing_list).values_list("address", flat=True))
        assert {"sender@example.com", "boss@example.org"} <= senders
    connection.set_tenant(committed_tenant)
