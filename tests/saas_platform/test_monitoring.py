"""Errors reach Sentry when SENTRY_DSN is set; logs are one JSON object per line."""

from __future__ import annotations

import gzip
import http.server
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from saas_platform.logging import JsonFormatter
from saas_platform.monitoring import sentry_init
from tests.mail_fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]


class _Collector(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.bodies.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_exception_in_a_django_process_is_reported_to_sentry():
    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'saas_platform.settings'; django.setup();"
        "import sentry_sdk;"
        "from sentry_sdk.integrations.dramatiq import DramatiqIntegration;"
        "assert sentry_sdk.get_client().get_integration(DramatiqIntegration) is not None\n"
        "try:\n    raise RuntimeError('probe-for-sentry')\n"
        "except RuntimeError as error:\n    sentry_sdk.capture_exception(error)\n"
        "sentry_sdk.flush(5)"
    )
    env = {**os.environ, "SENTRY_DSN": f"http://publickey@127.0.0.1:{port}/1"}
    try:
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr.decode()
    assert any(b"probe-for-sentry" in body for body in _Collector.bodies)


def test_no_sentry_without_dsn():
    assert sentry_init() is False


def test_log_lines_are_json_with_extra_fields():
    record = logging.LogRecord("mailing", logging.WARNING, __file__, 1, "stored %s", ("msg-1",), None)
    record.schema = "org_test"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["msg"] == "stored msg-1"
    assert entry["level"] == "warning"
    assert entry["schema"] == "org_test"
    assert "\n" not in line
