from __future__ import annotations

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

from accounts.services import organization_create_with_owner
from tenants.selectors import organization_get_by_slug
from tenants.services import public_tenant_ensure, template_schema_ensure

DEMO_SLUG = "demo"
DEMO_OWNER_USERNAME = "owner"
DEMO_OWNER_EMAIL = "owner@example.com"
DEMO_OWNER_PASSWORD = "demo-owner-pass"  # noqa: S105 -- a local demo, printed at start-up


class Command(BaseCommand):
    help = "Migrate the public schema, the template and every organization; with --demo seed the demo organization."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--demo", action="store_true")

    def handle(self, *args, demo: bool = False, **options) -> None:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure()
        template_schema_ensure()
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
        if not demo:
            return
        if organization_get_by_slug(slug=DEMO_SLUG) is None:
            organization_create_with_owner(
                slug=DEMO_SLUG,
                name="Demo School",
                owner_username=DEMO_OWNER_USERNAME,
                owner_email=DEMO_OWNER_EMAIL,
                owner_password=DEMO_OWNER_PASSWORD,
            )
        if "seed_demo" in get_commands():
            call_command("seed_demo")
        self.stdout.write(
            f"Demo organization: http://{DEMO_SLUG}.{settings.PLATFORM_DOMAIN}:{settings.WEB_PORT}/  "
            f"login {DEMO_OWNER_USERNAME} / {DEMO_OWNER_PASSWORD}"
        )
