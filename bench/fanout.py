"""`make bench-fanout`: one ~2 KB post to the demo list, every copy to Postfix's smtp-sink.

Prints recipients/s from the MX's 250 to the last copy received, the time to the first copy, the
worker processes' peak memory (RSS, sampled), and in the same run the loopback ceiling: smtp-source
sending as many individual 2 KB messages to the same sink. Loopback only; bounded in count and time.

Environment: BENCH_SENDER (sender@example.com), BENCH_MEMBERS (10000), BENCH_PROCESSES (2),
BENCH_THREADS (4), BENCH_TIMEOUT (300 s), BENCH_DKIM_MODES (per_recipient,relay: one fan-out per
OUTBOUND_DKIM_MODE, each with fresh workers, same MX, sink and ceiling), BENCH_CHANNELS (mail,web:
per mode, the post by mail and then the same text as a web broadcast with read confirmation and a
survey, whose time is printed next to the mail post's).
The workers run as the Procfile's: 2 processes x 4 threads, dramatiq_queue_prefetch=2 (at most 2
messages per queue per process: the FANOUT_WINDOW=4 batches of one broadcast spread over both
processes, and delivery never holds every thread of a process), and production's polling: the
queues a post waits on every 100 ms, the others every 1 s (saas_platform.broker; the bench runs
with PLATFORM_TESTING, whose defaults are the tests' 50 ms).
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
IDLE_SECONDS = 3.0
DKIM_MODES = [mode for mode in os.environ.get("BENCH_DKIM_MODES", "per_recipient,relay").split(",") if mode]
# mail: a post by SMTP to the MX (timed from its 250). web: the same text as a web broadcast with read
# confirmation and a three-choice survey (a personal footer per copy), sent by the console's service
# (timed from its commit). Each fan-out gets fresh workers.
CHANNELS = [channel for channel in os.environ.get("BENCH_CHANNELS", "mail,web").split(",") if channel]
# The registered sender. Through the real MX the post must also pass sender authorization: a loopback
# DNS server (LoopbackDns) publishes SPF for its domain allowing 127.0.0.1.
SENDER = os.environ.get("BENCH_SENDER", "sender@example.com")
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


class LoopbackDns:
    """An authoritative DNS server on loopback UDP for the sender's domain: SPF allows 127.0.0.1 (the
    bench's SMTP client), so the post is authenticated (aligned SPF pass) and distributed by the MX's
    sender authorization. No real DNS is reachable here; everything else is NXDOMAIN."""

    def __init__(self, domain: str) -> None:
        self.records = {domain: "v=spf1 ip4:127.0.0.1 -all", f"_dmarc.{domain}": "v=DMARC1; p=none"}
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.socket.settimeout(0.2)
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        while not self.stop.is_set():
            try:
                wire, peer = self.socket.recvfrom(4096)
                query = dns.message.from_wire(wire)
            except TimeoutError:
                continue
            except Exception:  # noqa: S112  (a malformed query gets no answer)
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            for question in query.question:
                name = question.name.to_text().rstrip(".").lower()
                if name not in self.records:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                elif question.rdtype == dns.rdatatype.TXT:
                    text = f'"{self.records[name]}"'
                    response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "TXT", [text]))
            self.socket.sendto(response.to_wire(), peer)


class SinkCounter:
    """smtp-sink -c prints `sess=N quit=N mesg=N` each time a message ends; we timestamp them."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.times: list[float] = []  # times[n - 1]: when the sink had received n messages
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        # The counts are cumulative: only a chunk's last complete record matters (the harness shares
        # the 2 cores with what it measures, so it parses as little as it can).
        buffer = b""
        while chunk := self.process.stdout.read1(65536):
            buffer += chunk
            complete, _, buffer = buffer.rpartition(b"\r") if b"\r" in buffer else buffer.rpartition(b"\n")
            now = time.monotonic()
            counts = re.findall(rb"mesg=(\d+)", complete[-200:])
            if counts:
                with self.changed:
                    self.count = int(counts[-1])
                    self.times.extend([now] * (self.count - len(self.times)))
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
    """Peak RSS of the worker process tree (sum and largest single process), sampled every 100 ms (the
    tree itself, a walk of /proc, is listed again every second: the harness shares the 2 cores)."""

    def __init__(self, root_pid: int) -> None:
        import psutil

        self.root = psutil.Process(root_pid)
        self.peak_total = 0
        self.peak_single = 0
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        import psutil

        processes: list = []
        listed_at = 0.0
        while not self.stop.is_set():
            try:
                if time.monotonic() - listed_at > 1.0:
                    processes = [self.root, *self.root.children(recursive=True)]
                    listed_at = time.monotonic()
                sizes = []
                for process in processes:
                    with contextlib.suppress(psutil.Error):
                        sizes.append(process.memory_info().rss)
                self.peak_total = max(self.peak_total, sum(sizes))
                self.peak_single = max(self.peak_single, max(sizes, default=0))
            except psutil.Error:
                pass
            self.stop.wait(0.1)


def tree_cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process, its live children, and its exited children that it reaped
    (PostgreSQL's backends come and go with the workers' connections: the postmaster reaps them)."""
    import psutil

    if pid is None:
        return 0.0
    total = 0.0
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total += times.children_user + times.children_system
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
    except psutil.Error:
        pass
    return total


def redis_pid() -> int | None:
    """The broker's Redis (it also holds the delivery marks), if it runs on this machine."""
    from mailing.services.delivery_marks import marks_client

    with contextlib.suppress(Exception):
        return int(marks_client().info("server")["process_id"])
    return None


def postmaster_pid() -> int | None:
    """The embedded PostgreSQL of this checkout (var/pgdata/postmaster.pid), if that is the one in use."""
    from django.conf import settings

    pid_file = Path(settings.VAR_DIR) / "pgdata" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError):
        return int(pid_file.read_text().split()[0])
    return None


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
            # A retried job or a warning explains an outlier: shown, not swallowed.
            shutting_down = b"Killing worker process" in line  # group_stop's SIGTERM
            if not shutting_down and (b'"level": "warning"' in line or b'"level": "error"' in line):
                sys.stderr.write("worker: " + line.decode(errors="replace")[:2000])
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


def web_send(message: bytes) -> float:
    """What the console's "Send now" does: a web broadcast of the post's text to the demo list, with
    read confirmation and a survey, planned in one transaction, fan-out enqueued on commit."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from mailing.models import MailingList
    from mailing.services.web_broadcasts import QuestionInput, web_broadcast_draft_save, web_broadcast_send_now
    from tenants.selectors import organization_get_by_slug

    body = message.split(b"\r\n\r\n", 1)[1].decode().replace("\r\n", "\n")
    organization = organization_get_by_slug(slug="demo")
    with schema_context(organization.schema_name):
        connection.tenant = organization
        draft = web_broadcast_draft_save(
            actor=None,
            lists=[MailingList.objects.get(local_part="all")],
            subject="Fan-out benchmark (web broadcast)",
            body_text=body,
            read_confirmation=True,
            questions=[QuestionInput(text="来週の行事に参加しますか?", choices=("○ 出席", "× 欠席", "△ 未定"))],  # noqa: RUF001
        )
        web_broadcast_send_now(broadcast=draft, actor=None)  # atomic: returns after its commit
        return time.monotonic()


def fanout_run(
    mode: str, env: dict[str, str], counter: SinkCounter, mx_port: int, list_address: str, channel: str = "mail"
) -> dict:
    """One fan-out with fresh workers in OUTBOUND_DKIM_MODE=mode; its figures."""
    workers, ready = workers_start(dict(env, OUTBOUND_DKIM_MODE=mode))
    try:
        if not ready.wait(60):
            sys.exit("workers did not start")
        # What idle workers cost (their polling): CPU over IDLE_SECONDS before the post.
        idle_before = tree_cpu_seconds(workers.pid)
        time.sleep(IDLE_SECONDS)
        idle_cpu_ms_per_s = (tree_cpu_seconds(workers.pid) - idle_before) * 1000 / IDLE_SECONDS
        memory = MemorySampler(workers.pid)
        pids = {
            "workers": workers.pid,
            "PostgreSQL": postmaster_pid(),
            "Redis": redis_pid(),
            "smtp-sink": counter.process.pid,
        }
        cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        base = counter.count
        message = post_bytes(list_address)
        if channel == "web":
            path = "web broadcast (mailing.services.web_broadcasts, from its commit)"
            accepted_at = web_send(message)
        else:
            accepted_at = mx_try(mx_port, list_address, message)
            path = "SMTP to the MX (manage.py run_mx)"
        if accepted_at is None:
            path = "INJECTED (the MX refused the list address: inbound handler not merged yet)"
            accepted_at = inject(list_address, message)
        if not counter.wait_for(base + 1, 60):
            sys.exit(f"no copy within 60 s after the post was accepted ({path}): held by sender authorization?")
        complete = counter.wait_for(base + MEMBERS, TIMEOUT)
        memory.stop.set()
        cpu_used = {name: tree_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    finally:
        group_stop(workers)
    received = counter.count - base
    last_at = counter.times[base + received - 1] if received else time.monotonic()
    elapsed = last_at - accepted_at
    # Copies per half second from the 250: the ramp-up, the steady rate and the tail.
    buckets = [0] * (int(elapsed / 0.5) + 1)
    for at in counter.times[base : base + received]:
        buckets[min(int((at - accepted_at) / 0.5), len(buckets) - 1)] += 1
    return {
        "buckets": buckets,
        "channel": channel,
        "mode": mode,
        "path": path,
        "received": received,
        "complete": complete,
        "elapsed": elapsed,
        "rate": received / elapsed if elapsed > 0 else float("nan"),
        "first": counter.times[base] - accepted_at if received else float("nan"),
        "idle_cpu": idle_cpu_ms_per_s,
        "peak_total": memory.peak_total / 2**20,
        "peak_single": memory.peak_single / 2**20,
        "per_copy": {name: seconds * 1000 / max(received, 1) for name, seconds in cpu_used.items()},
    }


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
    dns_server = LoopbackDns(SENDER.rpartition("@")[2])
    env = dict(
        os.environ,
        OUTBOUND_SMTP_URL=f"smtp://127.0.0.1:{sink_port}",
        DNS_NAMESERVERS=f"127.0.0.1:{dns_server.port}",
        DNS_TIMEOUT_SECONDS="2",
    )
    env.setdefault("dramatiq_queue_prefetch", "2")
    env.setdefault("DRAMATIQ_PROMPT_POLL_MS", "100")
    env.setdefault("DRAMATIQ_IDLE_POLL_MS", "1000")
    mx = None
    runs = []
    try:
        counter = SinkCounter(sink)
        mx = subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), "manage.py", "run_mx", "--port", str(mx_port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        mx.stdout.readline()  # "MX listening on ..."
        for mode in DKIM_MODES:
            for channel in CHANNELS:
                runs.append(fanout_run(mode, env, counter, mx_port, list_address, channel))

        # Loopback ceiling: the same number of individual 2 KB messages from smtp-source to the sink.
        before = counter.count
        source_started = time.monotonic()
        subprocess.run(
            [source_bin, "-s", "20", "-m", str(MEMBERS), "-l", "2048", "-d", f"127.0.0.1:{sink_port}"], check=True
        )
        counter.wait_for(before + MEMBERS, 60)
        ceiling = MEMBERS / (counter.times[before + MEMBERS - 1] - source_started)
    finally:
        group_stop(mx)
        group_stop(sink)

    cores = os.cpu_count() or 1
    for channel in CHANNELS:
        print(f"path ({channel}):{' ' * (17 - len(channel))}{next(r['path'] for r in runs if r['channel'] == channel)}")
    print(
        f"members:                  {MEMBERS}  (workers: {PROCESSES} processes x {THREADS} threads,"
        f" prefetch {env['dramatiq_queue_prefetch']}, batch {settings.FANOUT_BATCH_SIZE},"
        f" window {settings.FANOUT_WINDOW})"
    )
    print(f"loopback ceiling:         {ceiling:.0f} msgs/s (smtp-source -s 20 -m {MEMBERS} -l 2048 -d)")
    for run in runs:
        print(f"--- OUTBOUND_DKIM_MODE={run['mode']}, {run['channel']}")
        print(f"copies received by sink:  {run['received']}{'' if run['complete'] else '  (TIMED OUT)'}")
        print(f"250 -> last copy:         {run['elapsed']:.2f} s")
        print(f"recipients/s:             {run['rate']:.0f}")
        print(f"time to first copy:       {run['first'] * 1000:.0f} ms")
        print(f"copies per 0.5 s:         {' '.join(str(n) for n in run['buckets'])}")
        total, single = run["peak_total"], run["peak_single"]
        print(f"worker peak RSS:          {total:.0f} MB total, {single:.0f} MB largest process")
        print(f"idle workers' CPU:        {run['idle_cpu']:.0f} ms per second (polling, before the post)")
        per_copy = run["per_copy"]
        print("CPU per copy:             " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_copy.items()))
        projection = cores * 1000 / sum(per_copy.values())
        print(f"CPU-bound projection:     {projection:.0f} recipients/s on {cores} idle cores")
        print(f"ratio fan-out/ceiling:    {run['rate'] / ceiling:.3f}")
    for mode in DKIM_MODES:
        by_channel = {run["channel"]: run for run in runs if run["mode"] == mode}
        if {"mail", "web"} <= set(by_channel):
            mail, web = by_channel["mail"], by_channel["web"]
            print(f"--- web broadcast vs mail post, {mode}")
            print(
                f"10,000 copies:            web {web['elapsed']:.2f} s vs mail {mail['elapsed']:.2f} s"
                f" (web/mail time {web['elapsed'] / mail['elapsed']:.2f});"
                f" first copy {web['first'] * 1000:.0f} vs {mail['first'] * 1000:.0f} ms;"
                f" worker CPU per copy {web['per_copy']['workers']:.2f} vs {mail['per_copy']['workers']:.2f} ms"
            )
    by_mode = {run["mode"]: run for run in runs if run["channel"] == CHANNELS[0]}
    if {"per_recipient", "relay"} <= set(by_mode):
        signing = by_mode["per_recipient"]["per_copy"]["workers"] - by_mode["relay"]["per_copy"]["workers"]
        speedup = by_mode["relay"]["rate"] / by_mode["per_recipient"]["rate"]
        print("--- per-recipient DKIM")
        print(f"worker CPU per copy:      {signing:+.2f} ms vs relay; relay mode {speedup:.2f}x the recipients/s")


if __name__ == "__main__":
    main()
