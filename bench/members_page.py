"""How long the console's member page takes with 50,000 members in one list (F4).

Runs against a database of its own (`bench_members`, created and dropped here) on the server that
DATABASE_URL names (`make bench-members` uses the embedded PostgreSQL). Seeds one organization
with a list of N members in bulk (carrier and PC addresses, Japanese names, some suspended and
bouncing), then requests the page through Django's test client as a logged-in owner: the full
request (middleware, policy, queries, template) is timed, not just the SQL.

    make bench-members                                   # 50,000 members, 7 rounds
    make bench-members BENCH_ARGS="--members 100000 --rounds 11"
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.scratch import scratch_database

BENCH_DB = "bench_members"
SURNAMES = ["山田", "鈴木", "佐藤", "田中", "高橋", "伊藤", "渡辺", "中村", "小林", "加藤", "Smith", "Garcia"]
GIVEN = ["太郎", "花子", "次郎", "美咲", "翔太", "陽菜", "健", "さくら", "John", "Maria"]
DOMAINS = ["docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "i.softbank.jp", "gmail.com", "example.co.jp"]


def _seed(mailing_list, count: int) -> None:
    from mailing.models import Member

    rng = random.Random(42)
    members = []
    for n in range(count):
        domain = DOMAINS[n % len(DOMAINS)]
        local = f"user{n}" if domain not in {"docomo.ne.jp", "ezweb.ne.jp"} else f"user..{n}."  # carrier style
        address = f"{local}@{domain}"
        status = "suspended" if n % 10 == 3 else "bouncing" if n % 100 == 7 else "active"
        members.append(
            Member(
                mailing_list=mailing_list,
                address=address,
                address_normalized=address.lower(),
                name=f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
                status=status,
                source="import",
            )
        )
    Member.objects.bulk_create(members, batch_size=5000)


def _import_time(schema_name: str, count: int, owner) -> None:
    """A CSV file of `count` rows (cp932, as Excel writes it) previewed, then imported into an empty list."""
    from django_tenants.utils import schema_context

    from mailing.models import MailingList
    from mailing.services.member_import import member_import_apply, member_import_preview

    rows = ["メールアドレス,名前"] + [f"import{n}@docomo.ne.jp,山田 {n}" for n in range(count)]
    data = ("\r\n".join(rows) + "\r\n").encode("cp932")
    with schema_context(schema_name):
        target = MailingList.objects.create(name="Import target", local_part="import-target")
        started = time.perf_counter()
        preview = member_import_preview(mailing_list=target, data=data, filename="bench.csv", actor=owner)
        previewed = time.perf_counter() - started
        started = time.perf_counter()
        member_import_apply(member_import=preview, actor=owner)
        applied = time.perf_counter() - started
    print(f"CSV import of {count} rows ({len(data)} bytes, cp932): preview {previewed:.2f} s, apply {applied:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    os.environ.setdefault("PLATFORM_TESTING", "1")
    with scratch_database(BENCH_DB):
        _run(args)
    return 0


def _run(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import schema_context

    from accounts.services import organization_create_with_owner, user_create
    from mailing.models import ListAdmin, MailingList

    call_command("platform_prepare", verbosity=0)
    password = "bench-pass-123"  # noqa: S105 -- a throw-away database
    created = organization_create_with_owner(
        slug="bench", name="Bench", owner_email="owner@bench.example", owner_password=password
    )
    host = created.domain.domain
    with schema_context(created.organization.schema_name):
        mailing_list = MailingList.objects.create(name="Bench list", local_part="all")
        owner = user_create(username="bench-owner", email="o@bench.example", password=password, is_owner=True)
        ListAdmin.objects.create(mailing_list=mailing_list, user=owner)
        started = time.perf_counter()
        _seed(mailing_list, args.members)
        seeded = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE mailing_member")
            cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
            trigram = cursor.fetchone() is not None
        list_id = mailing_list.pk
    print(f"seeded {args.members} members in {seeded:.1f} s; pg_trgm indexes: {'yes' if trigram else 'no'}")

    client = Client(HTTP_HOST=host)
    connection.set_schema_to_public()
    with schema_context(created.organization.schema_name):
        client.force_login(owner)
    base = f"/lists/{list_id}/members/"
    last_page = -(-args.members // 50)
    cases = [
        ("page 1 (sort address)", base, {}),
        ("search address 'docomo' (1/6 match)", base, {"q": "docomo"}),
        ("search address 'user4242' (few)", base, {"q": "user4242"}),
        ("search name '山田'", base, {"q": "山田"}),
        ("status suspended", base, {"status": "suspended"}),
        ("sort name desc", base, {"sort": "-name"}),
        ("sort added desc, page 500", base, {"sort": "-created", "page": 500}),
        (f"last page ({last_page})", base, {"page": last_page}),
        ("htmx partial: search + status", base, {"q": "ezweb", "status": "active", "htmx": True}),
        ("CSV export of all members", f"/lists/{list_id}/members/export.csv", {}),
    ]
    print(f"{'case':42} {'median ms':>10} {'max ms':>8} {'queries':>8} {'bytes':>10}")
    for label, url, params in cases:
        params = dict(params)
        headers = {"HTTP_HX_REQUEST": "true"} if params.pop("htmx", False) else {}
        timings, size, queries = [], 0, 0
        for _ in range(args.rounds):
            reset_queries()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url, params, **headers)
                body = b"".join(response.streaming_content) if response.streaming else response.content
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code)
            size, queries = len(body), len(captured)
        print(f"{label:42} {statistics.median(timings):10.1f} {max(timings):8.1f} {queries:8d} {size:10d}")
        if os.environ.get("BENCH_SQL"):
            for query in captured.captured_queries:
                print(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:150]}")
    _import_time(created.organization.schema_name, args.members, owner)


if __name__ == "__main__":
    sys.exit(main())
