"""`make bench-links`: requests/s and p99 latency of the read-confirmation and survey link pages
(GET, HEAD) and of their POSTs (a confirmation, an answer), with wrk against gunicorn on loopback.

A web broadcast with read confirmation and a three-choice survey is sent to BENCH_RECIPIENTS members
of the demo organization (its deliveries are made in the send's transaction; no mail leaves: there
are no workers). wrk then walks the recipients' links, each request another recipient's token:
- GET of the read-confirmation page and of a survey choice's page (each logs a visit: one insert),
- HEAD of the read-confirmation link (logs a visit, no page),
- POST of the confirmation (INSERT ... ON CONFLICT DO NOTHING: the first press of each recipient
  inserts, the others find it) and of an answer (INSERT ... ON CONFLICT DO UPDATE: overwrites),
and `/healthz` (one SELECT 1) as the reference in the same run: the ratio says what a link page costs
beyond the framework and a database round trip.
Bounded: each case runs BENCH_SECONDS (10) with BENCH_CONNECTIONS (16) connections on 2 wrk threads.
Gunicorn: BENCH_WORKERS (2) sync workers, DEBUG off, PLATFORM_TESTING on (plain HTTP, no HTTPS
redirect; the same views, queries and middleware otherwise).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas_platform.settings")

RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", "500"))  # at most FANOUT_WINDOW x FANOUT_BATCH_SIZE (800)
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
HOST = "demo.localhost"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare() -> tuple[list[str], list[int]]:
    """The demo list with RECIPIENTS members and a sent web broadcast: (tokens, survey choice ids)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from mailing.models import Delivery, MailingList, Member, SurveyChoice
    from mailing.services.web_broadcasts import QuestionInput, web_broadcast_draft_save, web_broadcast_send_now
    from tenants.selectors import organization_get_by_slug

    call_command("platform_prepare", "--demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("seed_demo", "--members", str(RECIPIENTS))
    organization = organization_get_by_slug(slug="demo")
    with schema_context(organization.schema_name):
        connection.tenant = organization
        mailing_list = MailingList.objects.get(local_part="all")
        active = Member.objects.filter(mailing_list=mailing_list, status=Member.Status.ACTIVE).count()
        if active > 800:
            sys.exit("BENCH_RECIPIENTS must be at most 800 (all deliveries made in the send's transaction)")
        draft = web_broadcast_draft_save(
            actor=None,
            lists=[mailing_list],
            subject="保護者会の出欠確認 (負荷計測)",
            body_text="保護者の皆さま\n\n出欠をお知らせください。",
            read_confirmation=True,
            questions=[QuestionInput(text="出席されますか?", choices=("○ 出席", "× 欠席", "△ 未定"))],  # noqa: RUF001
        )
        broadcast = web_broadcast_send_now(broadcast=draft, actor=None)
        Delivery.objects.filter(broadcast=broadcast).update(status="sent", sent_at=timezone.now())
        tokens = list(Delivery.objects.filter(broadcast=broadcast).order_by("id").values_list("token", flat=True))
        choices = list(
            SurveyChoice.objects.filter(question__survey__broadcast=broadcast)
            .order_by("position")
            .values_list("id", flat=True)
        )
    return tokens, choices


def gunicorn_start(port: int) -> subprocess.Popen:
    env = dict(os.environ, DEBUG="0", PLATFORM_TESTING="1", LOG_LEVEL="WARNING")
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "saas_platform.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            status, _, _ = http_get(port, "/healthz")
            if status == 200:
                return process
        time.sleep(0.2)
    sys.exit("gunicorn did not answer")


def http_get(port: int, path: str) -> tuple[int, dict, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{HOST}:{port}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback only
        return response.status, dict(response.headers), response.read().decode()


def csrf_pair(port: int, path: str) -> tuple[str, str]:
    """(cookie secret, form token) from a GET of a link page, as a browser gets them."""
    _, headers, page = http_get(port, path)
    cookie = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", "")).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return cookie, token


def lua_script(port: int, method: str, paths: list[str], body: str = "", cookie: str = "") -> str:
    listed = ",\n".join(f'"{path}"' for path in paths)
    headers = f'wrk.headers["Host"] = "{HOST}:{port}"\n'
    if cookie:
        headers += f'wrk.headers["Cookie"] = "csrftoken={cookie}"\n'
        headers += 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
    return f"""
local paths = {{ {listed} }}
local counter = 0
{headers}
request = function()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  return wrk.format("{method}", path, nil, {repr(body) if body else "nil"})
end
"""


def wrk_run(port: int, script: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        result = subprocess.run(
            [
                shutil.which("wrk") or "/usr/bin/wrk",
                "-t2",
                f"-c{CONNECTIONS}",
                f"-d{SECONDS}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                handle.name,
                f"http://127.0.0.1:{port}/",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=SECONDS + 60,
        ).stdout
    finally:
        os.unlink(handle.name)

    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", result, re.MULTILINE).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", result).group(1)),
        "p50": latency("50%"),
        "p99": latency("99%"),
        "requests": int(re.search(r"(\d+) requests in", result).group(1)),
        "bad": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    if not (shutil.which("wrk") or Path("/usr/bin/wrk").exists()):
        sys.exit("wrk not found: install Debian's wrk (make bench-links does)")
    tokens, choices = prepare()
    port = free_port()
    server = gunicorn_start(port)
    try:
        cookie, form_token = csrf_pair(port, f"/m/r/{tokens[0]}/")
        read_paths = [f"/m/r/{token}/" for token in tokens]
        survey_paths = [f"/m/s/{token}/{choices[i % len(choices)]}/" for i, token in enumerate(tokens)]
        cases = [
            ("reference: GET /healthz (SELECT 1)", lua_script(port, "GET", ["/healthz"])),
            ("GET read-confirmation page", lua_script(port, "GET", read_paths)),
            ("HEAD read-confirmation link", lua_script(port, "HEAD", read_paths)),
            ("GET survey choice page", lua_script(port, "GET", survey_paths)),
            (
                "POST confirmation",
                lua_script(port, "POST", read_paths, body=f"csrfmiddlewaretoken={form_token}", cookie=cookie),
            ),
            (
                "POST survey answer",
                lua_script(
                    port,
                    "POST",
                    survey_paths,
                    body=f"csrfmiddlewaretoken={form_token}&choice={choices[0]}",
                    cookie=cookie,
                ),
            ),
        ]
        results = [(name, wrk_run(port, script)) for name, script in cases]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    counts = recorded(tokens)
    reference = results[0][1]["rps"]
    print(
        f"recipients: {len(tokens)}; wrk -t2 -c{CONNECTIONS} -d{SECONDS}s per case; gunicorn {WORKERS} sync workers;"
        f" {os.cpu_count()} cores shared by wrk, gunicorn and PostgreSQL"
    )
    print(
        f"{'case':38} {'requests/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'vs ref':>7} {'requests':>9} {'non-2xx/3xx':>11}"
    )
    for name, result in results:
        print(
            f"{name:38} {result['rps']:10.0f} {result['p50']:8.1f} {result['p99']:8.1f}"
            f" {result['rps'] / reference:8.2f} {result['requests']:8d} {result['bad']:11d}"
        )
    print(
        f"recorded: {counts['confirmations']} confirmations (one per recipient), {counts['answers']} answers"
        f" (one per recipient per question), {counts['visits']} visits logged"
    )


def recorded(tokens: list[str]) -> dict[str, int]:
    from django.db import connection
    from django_tenants.utils import schema_context

    from mailing.models import LinkVisit, ReadConfirmation, SurveyAnswer
    from tenants.selectors import organization_get_by_slug

    organization = organization_get_by_slug(slug="demo")
    with schema_context(organization.schema_name):
        connection.tenant = organization
        return {
            "confirmations": ReadConfirmation.objects.filter(delivery__token__in=tokens).count(),
            "answers": SurveyAnswer.objects.filter(delivery__token__in=tokens).count(),
            "visits": LinkVisit.objects.filter(delivery__token__in=tokens).count(),
        }


if __name__ == "__main__":
    main()
