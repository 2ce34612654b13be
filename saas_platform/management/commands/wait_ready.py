from __future__ import annotations

import socket
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Command(BaseCommand):
    help = "Wait until the web server and the MX answer, print one ready line, then stay (honcho stops all on exit)."

    def handle(self, *args, **options) -> None:
        ports = {"web": settings.WEB_PORT, "mx": settings.MX_PORT}
        deadline = time.monotonic() + 120
        while not all(_port_open(port) for port in ports.values()):
            if time.monotonic() > deadline:
                raise CommandError(f"not ready after 120 s: {ports}")
            time.sleep(0.2)
        domain = settings.PLATFORM_DOMAIN
        catcher = (
            f"  outbound mail kept in {settings.MAIL_CATCHER_DIR}" if "127.0.0.1" in settings.OUTBOUND_SMTP_URL else ""
        )
        self.stdout.write(
            f"READY  console http://demo.{domain}:{settings.WEB_PORT}/  "
            f"MX smtp://127.0.0.1:{settings.MX_PORT} (all@demo.{domain}){catcher}  Ctrl-C stops everything",
        )
        self.stdout.flush()
        while True:
            time.sleep(3600)
