from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from saas_platform.scheduler import scheduler_run


class Command(BaseCommand):
    help = "Run periodic jobs (sweeps, retries, scheduled broadcasts); one active process at a time."

    def handle(self, *args, **options) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        scheduler_run(stop=stop)
