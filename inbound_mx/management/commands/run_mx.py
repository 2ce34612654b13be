from __future__ import annotations

import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from inbound_mx.server import mx_controller_make
from tenants.jobs import actors_import


class Command(BaseCommand):
    help = "Run the inbound MX (SMTP) for all organizations' list addresses."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.MX_PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host: str, port: int, **options) -> None:
        actors_import()  # now, not when the first message's processing job is sent (before its 250)
        controller = mx_controller_make(host=host, port=port)
        controller.start()
        tls = "with STARTTLS" if controller.SMTP_kwargs.get("tls_context") else "without TLS"
        self.stdout.write(f"MX listening on {host}:{port} {tls}", ending="\n")
        self.stdout.flush()
        try:
            threading.Event().wait()
        finally:
            controller.stop()
