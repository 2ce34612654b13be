from __future__ import annotations

import threading

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand

from inbound_mx.server import InboundHandler


class Command(BaseCommand):
    help = "Run the inbound MX (SMTP) for all organizations' list addresses."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.MX_PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host: str, port: int, **options) -> None:
        controller = Controller(InboundHandler(), hostname=host, port=port)
        controller.start()
        self.stdout.write(f"MX listening on {host}:{port}")
        try:
            threading.Event().wait()
        finally:
            controller.stop()
