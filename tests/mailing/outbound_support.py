"""Helpers for outbound tests that need many members or a worker in its own process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from mailing.models import MailingList, Member
from tests.mail_fixtures import CapturedMail, SmtpCapture

ROOT = Path(__file__).resolve().parents[2]


def members_bulk_make(mailing_list: MailingList, count: int, *, prefix: str) -> list[str]:
    addresses = [f"{prefix}{i}@example.org" for i in range(count)]
    Member.objects.bulk_create(
        [Member(mailing_list=mailing_list, address=a, address_normalized=a) for a in addresses], batch_size=5000
    )
    return addresses


def capture_wait_until(
    capture: SmtpCapture, predicate: Callable[[list[CapturedMail]], bool], timeout: float
) -> list[CapturedMail]:
    """Wait (on the relay's condition, not a sleep) until `predicate(messages)` holds."""
    deadline = time.monotonic() + timeout
    with capture.handler.condition:
        while not predicate(capture.handler.messages):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"condition not met; {len(capture.handler.messages)} messages captured")
            capture.handler.condition.wait(remaining)
        return list(capture.handler.messages)


def worker_environment(**extra: str) -> dict[str, str]:
    """The test's own database (test_…), Redis, queue prefix and relay, for a worker subprocess."""
    url = urlsplit(settings.DATABASE_URL)
    database_url = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=settings.REDIS_URL,
        DRAMATIQ_QUEUE_PREFIX=settings.DRAMATIQ_QUEUE_PREFIX,
        OUTBOUND_SMTP_URL=settings.OUTBOUND_SMTP_URL,
        PLATFORM_TESTING="1",
        **extra,
    )
    return env


def worker_start(env: dict[str, str], *, processes: int = 1, threads: int = 4) -> subprocess.Popen:
    """`dramatiq saas_platform.worker` in its own process group (so SIGKILL reaches every process)."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dramatiq"),
            "saas_platform.worker",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def worker_kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)
