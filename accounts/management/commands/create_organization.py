from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.services import organization_create_with_owner
from tenants.errors import TenantsUserError


class Command(BaseCommand):
    help = "Create an organization: its schema, its domain <slug>.<PLATFORM_DOMAIN> and an owner login."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--owner-username")

    def handle(self, *args, **options) -> None:
        try:
            created = organization_create_with_owner(
                slug=options["slug"],
                name=options["name"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
                owner_username=options["owner_username"],
            )
        except TenantsUserError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"created {created.organization.slug} at {created.domain.domain}")
