"""The embedded services start, serve, are reused, and are gone when the command ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_embedded_services_start_serve_and_stop(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["PLATFORM_VAR_DIR"] = str(tmp_path)
    probe = (
        "import os, psycopg, redis;"
        "print(psycopg.connect(os.environ['DATABASE_URL']).execute('select 40+2').fetchone()[0]);"
        "print(redis.Redis.from_url(os.environ['REDIS_URL']).ping())"
    )
    result = subprocess.run(
        [sys.executable, "-m", "saas_platform.embedded", "--", sys.executable, "-c", probe],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["42", "True"]
    # Nothing is left running: no postmaster.pid, no answering Redis socket.
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()
    assert not (tmp_path / "redis" / "redis.sock").exists() or subprocess.run(
        [sys.executable, "-c", f"import redis; redis.Redis(unix_socket_path='{tmp_path}/redis/redis.sock').ping()"],
        capture_output=True, check=False,
    ).returncode != 0  # fmt: skip


def test_external_services_are_used_when_configured(tmp_path: Path):
    env = {
        **os.environ,
        "PLATFORM_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql://x@h/db",
        "REDIS_URL": "redis://h:1/0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "saas_platform.embedded", "--", "sh", "-c", "echo $DATABASE_URL $REDIS_URL"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.stdout.strip() == "postgresql://x@h/db redis://h:1/0"
    assert not (tmp_path / "pgdata").exists()


def _clean_env(var_dir: Path) -> dict[str, str]:
    """A second terminal: nothing configured (no DATABASE_URL, REDIS_URL, DEBUG or SECRET_KEY)."""
    unset = {
        "DATABASE_URL",
        "REDIS_URL",
        "DEBUG",
        "SECRET_KEY",
        "PLATFORM_TESTING",
        "DRAMATIQ_QUEUE_PREFIX",
        "WEB_PORT",
    }
    return {**{k: v for k, v in os.environ.items() if k not in unset}, "PLATFORM_VAR_DIR": str(var_dir)}


MANAGE_PROBE = (
    "from django.conf import settings; from django.db import connection; connection.ensure_connection();"
    "print(settings.DEBUG, connection.settings_dict['NAME'], settings.WEB_PORT)"
)


def test_manage_py_beside_make_run_reaches_the_same_services_without_extra_variables(tmp_path: Path, django_db_setup):
    """What `make run` does (embedded with --write-run-env, DEBUG on), and a manage.py command in a
    second terminal with nothing set: it uses make run's database and DEBUG; once make run has
    stopped, manage.py is production-strict again (SECRET_KEY required)."""
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    if "?" in os.environ["DATABASE_URL"]:
        database_url += "?" + os.environ["DATABASE_URL"].split("?", 1)[1]
    started = tmp_path / "started"
    run_env = {
        **_clean_env(tmp_path),
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ["REDIS_URL"],
        "DEBUG": "1",
        "WEB_PORT": "8231",
    }
    wait = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(60)"
    make_run = subprocess.Popen(
        [sys.executable, "-m", "saas_platform.embedded", "--write-run-env", "--", sys.executable, "-c", wait],
        cwd=ROOT, env=run_env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert make_run.poll() is None, "make run stopped"
            assert time.monotonic() < deadline, "make run did not start"
            time.sleep(0.05)
        beside = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", MANAGE_PROBE],
            cwd=ROOT, env=_clean_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert beside.returncode == 0, beside.stderr[-2000:]
        assert beside.stdout.split() == ["True", connection.settings_dict["NAME"], "8231"]
    finally:
        os.killpg(make_run.pid, signal.SIGTERM)
        make_run.wait(30)
    after = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=_clean_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert after.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in after.stderr
