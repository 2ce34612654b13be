from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django_tenants.utils import get_tenant_model, schema_context

from mailing.models import InboundMessage


class Command(BaseCommand):
    help = "List quarantined inbound messages (processing kept failing) of every organization, or of one."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--schema", default="", help="only this organization's schema")

    def handle(self, *args, schema: str, **options) -> None:
        organizations = get_tenant_model().objects.exclude(
            schema_name__in=[settings.PUBLIC_SCHEMA_NAME, settings.TENANT_TEMPLATE_SCHEMA]
        )
        if schema:
            organizations = organizations.filter(schema_name=schema)
        count = 0
        for schema_name in organizations.values_list("schema_name", flat=True):
            with schema_context(schema_name):
                for message in InboundMessage.objects.filter(state=InboundMessage.State.QUARANTINED).order_by("id"):
                    error = (message.last_error.strip().splitlines() or [""])[-1]
                    self.stdout.write(
                        f"{schema_name}\t{message.id}\t{message.received_at.isoformat()}\t{message.kind}\t"
                        f"attempts={message.processing_attempts}\tsize={message.size}\t"
                        f"from={message.envelope_from or '<>'}\tto={message.envelope_to}\terror={error[:200]}"
                    )
                    count += 1
        self.stdout.write(f"{count} quarantined message(s)")
