"""`manage.py seed_demo [--members N] [--sender ADDRESS]`: the demo organization's list `all`.

Idempotent: running it again with another N leaves exactly N seeded members (demo-member-I@example.com,
all active) plus whatever was added by hand. Fast for 100,000 members: one INSERT ... SELECT.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django_tenants.utils import schema_context

from mailing.addresses import member_address_validate
from mailing.models import Delivery, MailingList, Member, Sender, address_normalize
from tenants.selectors import organization_get_by_slug

DEMO_SLUG = "demo"
LIST_LOCAL_PART = "all"
SEED_PATTERN = r"^demo-member-[0-9]+@example\.com$"

_MEMBERS_UPSERT = f"""
    INSERT INTO {Member._meta.db_table}
        (mailing_list_id, address, address_normalized, name, status, source, bounce_score, created_at, updated_at)
    SELECT %s, 'demo-member-' || i || '@example.com', 'demo-member-' || i || '@example.com', 'Member ' || i,
           %s, %s, 0, now(), now()
      FROM generate_series(0, %s - 1) AS i
    ON CONFLICT (mailing_list_id, address_normalized)
    DO UPDATE SET status = EXCLUDED.status, bounce_score = 0, updated_at = now()
     WHERE {Member._meta.db_table}.status <> EXCLUDED.status
"""
_EXTRA_SEEDED = f"""
    SELECT id FROM {Member._meta.db_table}
     WHERE mailing_list_id = %s AND address_normalized ~ %s
       AND split_part(split_part(address_normalized, '@', 1), '-', 3)::bigint >= %s
"""


class Command(BaseCommand):
    help = "Seed the demo organization's list `all` with N active members and a registered sender."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--members", type=int, default=5)
        parser.add_argument("--sender", default="sender@example.com")

    def handle(self, *args, members: int = 5, sender: str = "sender@example.com", **options) -> None:
        if members < 0:
            raise CommandError("--members must be 0 or more")
        organization = organization_get_by_slug(slug=DEMO_SLUG)
        if organization is None:
            raise CommandError("no demo organization: run `manage.py platform_prepare --demo` first")
        sender = member_address_validate(sender)
        with schema_context(organization.schema_name), transaction.atomic():
            mailing_list, _ = MailingList.objects.get_or_create(
                local_part=LIST_LOCAL_PART, defaults={"name": "All", "subject_tag": ""}
            )
            with connection.cursor() as cursor:
                cursor.execute(_MEMBERS_UPSERT, [mailing_list.id, Member.Status.ACTIVE, Member.Source.IMPORT, members])
                cursor.execute(_EXTRA_SEEDED, [mailing_list.id, SEED_PATTERN, members])
                extra = [row[0] for row in cursor.fetchall()]
            if extra:
                Delivery.objects.filter(member_id__in=extra).update(member=None)
                Member.objects.filter(id__in=extra).delete()
            Sender.objects.get_or_create(
                mailing_list=mailing_list,
                address_normalized=address_normalize(sender),
                defaults={"address": sender, "person_name": "Demo sender"},
            )
            active = Member.objects.filter(mailing_list=mailing_list, status=Member.Status.ACTIVE).count()
            domain = organization.get_primary_domain().domain
        self.stdout.write(f"{LIST_LOCAL_PART}@{domain}: {active} active members; sender {sender}")
