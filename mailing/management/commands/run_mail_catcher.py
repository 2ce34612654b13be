from __future__ import annotations

import threading

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand

from mailing.catcher import CatcherHandler


class Command(BaseCommand):
    help = "Run the development outbound mail catcher (keeps mail under var/mail/)."

    def handle(self, *args, **options) -> None:
        controller = Controller(
            CatcherHandler(settings.MAIL_CATCHER_DIR),
            hostname="127.0.0.1",
            port=settings.MAIL_CATCHER_PORT,
            data_size_limit=settings.MAIL_MAX_MESSAGE_BYTES * 2,
        )
        controller.start()
        self.stdout.write(f"mail catcher on 127.0.0.1:{settings.MAIL_CATCHER_PORT} -> {settings.MAIL_CATCHER_DIR}")
        try:
            threading.Event().wait()
        finally:
            controller.stop()
