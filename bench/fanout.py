"""`make bench-fanout`: one ~2 KB post to the demo list, every copy to Postfix's smtp-sink.

Prints recipients/s from the MX's 250 to the last copy received, the time to the first copy, the
worker processes' peak memory (RSS, sampled), and in the same run the loopback ceiling: smtp-source
sending as many individual 2 KB messages to the same sink. Loopback only; bounded in count and time.

Environment: BENCH_MEMBERS (10000), BENCH_PROCESSES (2), BENCH_THREADS (4), BENCH_TIMEOUT (300 s).
Run through `make bench-fanout` (embedded PostgreSQL/Redis; installs Postfix for smtp-sink if needed).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MEMBERS = int(os.environ.get("BENCH_MEMBERS", "10000"))
PROCESSES = int(os.environ.get("BENCH_PROCESSES", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "300"))
SENDER = "sender@example.com"
os.environ["DRAMATIQ_QUEUE_PREFIX"] = f"bench{os.getpid()}-"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas_platform.settings")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if not found:
        sys.exit(f"{name} not found: install Debian's postfix (make bench-fanout does)")
    return found


def post_bytes(list_address: str) -> bytes:
    paragraph = "来週の行事予定をお知らせします。Schedule for next week: assembly on Monday, sports day on Friday.\n"
    body = paragraph * 14  # ~2 KB with headers
    return (
        f"From: Bench Sender <{SENDER}>\r\nTo: {list_address}\r\nSubject: Fan-out benchmark\r\n"
        f"Date: Fri, 27 Nov 2026 10:00:00 +0900\r\nMessage-ID: <bench-{time.time_ns()}@example.com>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        + body.replace("\n", "\r\n")
    ).encode()


class SinkCounter:
    """smtp-sink -c prints `sess=N quit=N mesg=N` each time a message ends; we timestamp them."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := self.process.stdout.read1(65536):
            buffer += chunk
            *records, buffer = re.split(rb"[\r\n]", buffer)
            now = time.monotonic()
            for record in records:
                match = re.search(rb"mesg=(\d+)", record)
                if match:
                    with self.changed:
                        self.count = int(match.group(1))
                        if self.count and self.first_at is None:
                            self.first_at = now
                        self.last_at = now
                        self.changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.count < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
        return True


class MemorySampler:
    """Peak RSS of the worker process tree (sum and largest single process), sampled every 50 ms."""

    def __init__(self, root_pid: int) -> None:
        import psutil

        self.root = psutil.Process(root_pid)
        self.peak_total = 0
        self.peak_single = 0
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
                sizes = []
                for process in processes:
                    with contextlib.suppress(psutil.Error):
                        sizes.append(process.memory_info().rss)
                self.peak_total = max(self.peak_total, sum(sizes))
                self.peak_single = max(self.peak_single, max(sizes, default=0))
            except psutil.Error:
                pass
            self.stop.wait(0.05)


def workers_start(env: dict[str, str]) -> tuple[subprocess.Popen, threading.Event]:
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/dramatiq"),
            "saas_platform.worker",
            "--processes",
            str(PROCESSES),
            "--threads",
            str(THREADS),
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    ready = threading.Event()

    def watch() -> None:
        seen = 0
        for line in process.stderr:
            if b"ready for action" in line:
                seen += 1
                if seen >= PROCESSES:
                    ready.set()

    threading.Thread(target=watch, daemon=True).start()
    return process, ready


def group_stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def mx_try(port: int, list_address: str, message: bytes) -> float | None:
    """Send the post to the MX; the monotonic time of its 250, or None if the MX refuses the list."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("bench.example.com")
        client.mail(SENDER)
        code, _ = client.rcpt(list_address)
        if code != 250:
            return None
        code, reply = client.data(message)
        accepted_at = time.monotonic()
        if code != 250:
            raise SystemExit(f"MX refused the post: {code} {reply!r}")
        return accepted_at


def inject(list_address: str, message: bytes) -> float:
    """What the MX and inbound processing do for a distributed post: an InboundMessage row and the
    broadcast in one transaction, fan-out enqueued on commit. Used until the MX accepts list mail."""
    from django.db import transaction
    from django_tenants.utils import schema_context

    from mailing.models import InboundMessage, MailingList
    from mailing.services.broadcasts import broadcast_create_for_mail
    from tenants.selectors import organization_get_by_slug

    organization = organization_get_by_slug(slug="demo")
    with schema_context(organization.schema_name):
        from django.db import connection

        connection.tenant = organization
        with transaction.atomic():
            mailing_list = MailingList.objects.get(local_part="all")
            inbound = InboundMessage.objects.create(
                kind=InboundMessage.Kind.POST,
                mailing_list=mailing_list,
                envelope_from=SENDER,
                envelope_to=list_address,
                raw=message,
                size=len(message),
                state=InboundMessage.State.DISTRIBUTED,
            )
            broadcast_create_for_mail(inbound_message=inbound, author_address=SENDER, rewrite_from=False)
        return time.monotonic()


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    sink_bin, source_bin = tool("smtp-sink"), tool("smtp-source")
    started = time.monotonic()
    call_command("platform_prepare", "--demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("seed_demo", "--members", str(MEMBERS), "--sender", SENDER)
    print(f"seeded {MEMBERS} members in {time.monotonic() - started:.1f}s")
    list_address = f"all@demo.{settings.PLATFORM_DOMAIN}"

    sink_port, mx_port = free_port(), free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen(
        [sink_bin, *user, "-c", f"127.0.0.1:{sink_port}", "1000"], stdout=subprocess.PIPE, start_new_session=True
    )
    env = dict(os.environ, OUTBOUND_SMTP_URL=f"smtp://127.0.0.1:{sink_port}")
    workers = mx = None
    try:
        counter = SinkCounter(sink)
        workers, ready = workers_start(env)
        mx = subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), "manage.py", "run_mx", "--port", str(mx_port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        mx.stdout.readline()  # "MX listening on ..."
        if not ready.wait(60):
            sys.exit("workers did not start")
        memory = MemorySampler(workers.pid)
        message = post_bytes(list_address)
        accepted_at = mx_try(mx_port, list_address, message)
        path = "SMTP to the MX (manage.py run_mx)"
        if accepted_at is None:
            path = "INJECTED (the MX refused the list address: inbound handler not merged yet)"
            accepted_at = inject(list_address, message)
        complete = counter.wait_for(MEMBERS, TIMEOUT)
        memory.stop.set()
        received = counter.count
        elapsed = (counter.last_at or time.monotonic()) - accepted_at
        first = (counter.first_at - accepted_at) if counter.first_at else float("nan")

        # Loopback ceiling: the same number of individual 2 KB messages from smtp-source to the sink.
        before = counter.count
        source_started = time.monotonic()
        subprocess.run(
            [source_bin, "-s", "20", "-m", str(MEMBERS), "-l", "2048", "-d", f"127.0.0.1:{sink_port}"], check=True
        )
        counter.wait_for(before + MEMBERS, 60)
        ceiling = MEMBERS / ((counter.last_at or time.monotonic()) - source_started)
    finally:
        group_stop(mx)
        group_stop(workers)
        group_stop(sink)

    rate = received / elapsed if elapsed > 0 else float("nan")
    print(f"path:                     {path}")
    print(f"members:                  {MEMBERS}  (workers: {PROCESSES} processes x {THREADS} threads)")
    print(f"copies received by sink:  {received}{'' if complete else '  (TIMED OUT)'}")
    print(f"250 -> last copy:         {elapsed:.2f} s")
    print(f"recipients/s:             {rate:.0f}")
    print(f"time to first copy:       {first * 1000:.0f} ms")
    print(f"worker peak RSS:          {memory.peak_total / 2**20:.0f} MB total, {memory.peak_single / 2**20:.0f} MB largest process")
    print(f"loopback ceiling:         {ceiling:.0f} msgs/s (smtp-source -s 20 -m {MEMBERS} -l 2048 -d)")
    print(f"ratio fan-out/ceiling:    {rate / ceiling:.2f}")


if __name__ == "__main__":
    main()
