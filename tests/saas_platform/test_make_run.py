"""`make run` starts the whole platform, serves the demo organization, and one Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest
from django.db import connection

from tests.mail_fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]


def _get(port: int, host: str, path: str = "/") -> tuple[int, str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{host}:{port}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback only
            return response.status, response.geturl(), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.geturl(), ""


@pytest.fixture
def scratch_database(django_db_setup, django_db_blocker):
    """A database of its own on the test server, so `make run` migrates and seeds it from scratch."""
    with django_db_blocker.unblock():
        params = {k: v for k, v in connection.get_connection_params().items() if k not in {"cursor_factory", "context"}}
    name = f"smoke_run_{os.getpid()}"
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    host = params.get("host", "")
    port = params.get("port", 5432)
    user = params.get("user", "postgres")
    if host.startswith("/"):
        url = f"postgresql://{user}@/{name}?host={host}"
    else:
        url = f"postgresql://{user}@{host}:{port}/{name}"
    yield url
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.slow
def test_make_run_serves_demo_login_and_ctrl_c_stops_everything(scratch_database, tmp_path):
    web_port, mx_port, catcher_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": scratch_database,
        "WEB_PORT": str(web_port),
        "MX_PORT": str(mx_port),
        "MAIL_CATCHER_PORT": str(catcher_port),
        "PLATFORM_VAR_DIR": str(tmp_path),
    }
    env.pop("PLATFORM_TESTING", None)
    env.pop("OUTBOUND_SMTP_URL", None)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    output: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            output.append(line)
            if line.startswith("READY"):
                break
        assert any(line.startswith("READY") for line in output), "".join(output[-40:])
        ready = next(line for line in output if line.startswith("READY"))
        assert f"http://demo.localhost:{web_port}/" in ready
        assert any("login owner / " in line for line in output)

        status, url, body = _get(web_port, "demo.localhost")
        assert status == 200
        assert url.endswith("/accounts/login/?next=/")
        assert 'name="password"' in body
        assert _get(web_port, "unknown.localhost")[0] == 404
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 6  # web, worker, scheduler, mx, catcher, ready (+ their parents)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what one Ctrl-C in the terminal does
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    time.sleep(0.5)  # let the last children be reaped by init
    leftovers = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert leftovers == [], [p.cmdline() for p in leftovers]
