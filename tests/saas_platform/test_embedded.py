"""The embedded services start, serve, are reused, and are gone when the command ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
