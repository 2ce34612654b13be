"""Groups (issue 11): moving 1,000 members, the owner's dashboard at 200 lists and 50,000 members, the
yearly rollover of a 2,000-member school. Each figure is compared with a reference in the same run.

Runs against a database of its own (`bench_groups`, created and dropped here) on the server that
DATABASE_URL names (`make bench-groups` uses the embedded PostgreSQL).

- move: a list of N (1,000) members (Japanese names, carrier addresses, guardians with two addresses,
  a past broadcast's deliveries) moved to a list that already has 10% of them, and back by the undo;
  the service alone and the two requests a group admin makes (preview, apply) through Django's test
  client. Reference: the same members moved one at a time with mailing's member services (add to the
  target, remove from the source), as a page without bulk moves would.
- dashboard: the owner's home page (group tree, counts, bars, last and recent broadcasts) with 200
  lists in a three-level tree and 50,000 members; reference: the same page of a list admin of one list.
- rollover: plan, apply and undo of a 6 x 4 school with 2,000 members.

    make bench-groups
    make bench-groups BENCH_ARGS="--only move --members 5000"
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.scratch import scratch_database

BENCH_DB = "bench_groups"
SURNAMES = ["山田", "鈴木", "佐藤", "田中", "高橋", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "山本"]
GIVEN = ["太郎", "花子", "次郎", "美咲", "翔太", "陽菜", "健", "さくら", "大翔", "結衣"]
DOMAINS = ["docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "gmail.com", "example.co.jp"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["move", "dashboard", "rollover"], action="append")
    parser.add_argument("--members", type=int, default=1000, help="members moved (move)")
    parser.add_argument("--lists", type=int, default=200, help="lists (dashboard)")
    parser.add_argument("--total", type=int, default=50_000, help="members in all lists (dashboard)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("PLATFORM_TESTING", "1")
    with scratch_database(BENCH_DB):
        _run(args)
    return 0


def _address(n: int, prefix: str) -> str:
    domain = DOMAINS[n % len(DOMAINS)]
    local = f"{prefix}user..{n}." if domain in {"docomo.ne.jp", "ezweb.ne.jp"} else f"{prefix}user{n}"
    return f"{local}@{domain}"


def _members(mailing_list, count: int, prefix: str, start: int = 0):
    from mailing.models import Member

    rows = [
        Member(
            mailing_list=mailing_list,
            address=_address(n, prefix),
            address_normalized=_address(n, prefix).lower(),
            name=f"{SURNAMES[n % len(SURNAMES)]} {GIVEN[n % len(GIVEN)]}",
            status="suspended" if n % 10 == 3 else "active",
            source="import",
        )
        for n in range(start, start + count)
    ]
    return Member.objects.bulk_create(rows, batch_size=5000)


def _report(label: str, timings: list[float], extra: str = "") -> float:
    median = statistics.median(timings)
    print(f"{label:<58} median {median * 1000:8.1f} ms  max {max(timings) * 1000:8.1f} ms  {extra}")
    return median


def _run(args: argparse.Namespace) -> None:
    from django.core.management import call_command

    from accounts.services import organization_create_with_owner

    call_command("platform_prepare", verbosity=0)
    created = organization_create_with_owner(
        slug="bench",
        name="株式会社サンプル",
        owner_email="owner@bench.example",
        owner_password="bench-pass-123",  # noqa: S106
    )
    parts = args.only or ["move", "dashboard", "rollover"]
    if "move" in parts:
        _move(args, created)
    if "rollover" in parts:
        _rollover(created)
    if "dashboard" in parts:
        dashboard_org = organization_create_with_owner(
            slug="dash",
            name="株式会社ダッシュボード",
            owner_email="owner@dash.example",
            owner_password="bench-pass-123",  # noqa: S106
        )
        _dashboard(args, dashboard_org)


def _client(created, user):
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import schema_context

    client = Client(HTTP_HOST=created.domain.domain)
    connection.set_schema_to_public()
    with schema_context(created.organization.schema_name):
        client.force_login(user)
    return client


def _move(args: argparse.Namespace, created) -> None:
    import secrets

    from django.db import connection
    from django.urls import reverse
    from django_tenants.utils import schema_context

    from accounts.services import user_create
    from mailing.errors import MailingUserError
    from mailing.models import Broadcast, Delivery, MailingList, Member, Person, PersonAddress
    from mailing.services.members import member_add, member_remove
    from org_groups.models import Group, GroupAdmin, MemberTransfer
    from org_groups.services.transfers import transfer_apply, transfer_diff, transfer_preview, transfer_undo

    count = args.members
    print(f"\n== move {count} members (group admin; target already has {count // 10} of them)")
    with schema_context(created.organization.schema_name):
        source = MailingList.objects.create(name="株式会社サンプル 営業本部 第一営業部", local_part="sales1")
        target = MailingList.objects.create(name="株式会社サンプル 営業本部 第二営業部", local_part="sales2")
        spare = MailingList.objects.create(name="参照用", local_part="reference")
        root = Group.objects.create(name="営業本部")
        for position, each in enumerate((source, target, spare)):
            Group.objects.create(name=each.name, parent=root, position=position, mailing_list=each)
        admin = user_create(username="group-admin", email="ga@bench.example", password="bench-pass-123")  # noqa: S106
        GroupAdmin.objects.create(user=admin, group=root)
        members = _members(source, count, "mv.")
        _members(target, count // 10, "mv.")  # 10% already in the target
        _members(target, 500, "other.")
        people = Person.objects.bulk_create(Person(name=f"保護者 {n}") for n in range(count // 10))
        PersonAddress.objects.bulk_create(
            PersonAddress(person=person, address=m.address, address_normalized=m.address_normalized)
            for person, m in zip(people, members, strict=False)
        )
        for person, m in zip(people, members, strict=False):
            Member.objects.filter(pk=m.pk).update(person=person)
        broadcast = Broadcast.objects.create(mailing_list=source, channel="web", subject="お知らせ", state="sent")
        Delivery.objects.bulk_create(
            Delivery(broadcast=broadcast, member=m, address=m.address, token=secrets.token_hex(16), status="sent")
            for m in members
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        ids = [m.pk for m in members]

        previews, diffs, applies, undos, copies = [], [], [], [], []
        for _ in range(args.rounds):
            began = time.perf_counter()
            transfer = transfer_preview(
                actor=admin, kind="move", source_list=source, target_list=target, member_ids=ids, selection={}
            )
            previews.append(time.perf_counter() - began)
            began = time.perf_counter()
            diff = transfer_diff(transfer=transfer)
            diffs.append(time.perf_counter() - began)
            began = time.perf_counter()
            done = transfer_apply(transfer=transfer, actor=admin)
            applies.append(time.perf_counter() - began)
            assert (done.added_count, done.already_count) == (len(diff.added), len(diff.already))
            began = time.perf_counter()
            transfer_undo(transfer=done, actor=admin)
            undos.append(time.perf_counter() - began)
            assert Member.objects.filter(mailing_list=source).count() == count
            began = time.perf_counter()
            copy = transfer_apply(
                transfer=transfer_preview(
                    actor=admin, kind="copy", source_list=source, target_list=spare, member_ids=ids, selection={}
                ),
                actor=admin,
            )
            copies.append(time.perf_counter() - began)
            transfer_undo(transfer=copy, actor=admin)
    _report(f"service: preview of {count} (keep the choice)", previews)
    _report(f"service: what will change ({count}: added/already/leaving)", diffs)
    apply = _report(f"service: apply the move of {count} (one transaction)", applies)
    _report(f"service: undo that move ({count})", undos)
    _report(f"service: copy {count} (preview + apply)", copies)

    client = _client(created, admin)
    select_url = reverse("console:transfer_select", kwargs={"list_id": source.pk})
    posts, pages, applied_requests = [], [], []
    for _ in range(args.rounds):
        began = time.perf_counter()
        response = client.post(select_url, {"mode": "all", "kind": "move", "target": target.pk})
        posts.append(time.perf_counter() - began)
        assert response.status_code == 302, response.status_code
        detail = response["Location"]
        began = time.perf_counter()
        page = client.get(detail)
        pages.append(time.perf_counter() - began)
        assert page.status_code == 200
        transfer_id = int(detail.rstrip("/").split("/")[-1])
        began = time.perf_counter()
        response = client.post(reverse("console:transfer_apply", kwargs={"transfer_id": transfer_id}))
        applied_requests.append(time.perf_counter() - began)
        assert response.status_code == 302
        client.post(reverse("console:transfer_undo", kwargs={"transfer_id": transfer_id}))
    _report(f"request: choose the whole list -> preview ({count})", posts)
    _report(f"request: the preview page ({count} listed)", pages)
    request_apply = _report(f"request: apply the move of {count}", applied_requests)

    with schema_context(created.organization.schema_name):
        assert MemberTransfer.objects.filter(state="applied").count() == 0
        fresh = list(Member.objects.filter(mailing_list=source).order_by("id"))
        began = time.perf_counter()
        for member in fresh:  # the reference: one member at a time through mailing's services
            with contextlib.suppress(MailingUserError):  # already there, as the bulk move counts it
                member_add(mailing_list=target, address=member.address, name=member.name, actor=admin)
            member_remove(member=member, actor=admin)
        naive = time.perf_counter() - began
    print(f"{'reference: the same move one member at a time (add + remove)':<58} {naive * 1000:15.1f} ms")
    print(f"bulk move vs one at a time: {naive / apply:.0f}x faster (service), {naive / request_apply:.0f}x (request)")
    verdict = "met" if apply < 1.0 and request_apply < 1.0 else "NOT met"
    print(f"target (moving {count} members under 1 s): {verdict}")


def _rollover(created) -> None:
    from django_tenants.utils import schema_context

    from mailing.models import MailingList, Member
    from org_groups.models import Group
    from org_groups.services.rollover import rollover_apply, rollover_plan_make, rollover_undo

    print("\n== yearly rollover of a 6 x 4 school with 2,000 members")
    with schema_context(created.organization.schema_name):
        root = Group.objects.create(name="市立さくら小学校")
        serial = 0
        for g in range(1, 7):
            grade = Group.objects.create(name=f"{g}年", parent=root, position=g)
            for c in range(1, 5):
                class_list = MailingList.objects.create(name=f"{g}年{c}組", local_part=f"sakura-{g}-{c}")
                Group.objects.create(name=f"{g}年{c}組", parent=grade, position=c, mailing_list=class_list)
                per_class = 84 if serial < 8 * 84 else 83  # 8 x 84 + 16 x 83 = 2,000
                _members(class_list, per_class, "school.", start=serial)
                serial += per_class
        assert Member.objects.filter(mailing_list__group__parent__parent=root).count() == 2000
        began = time.perf_counter()
        rollover = rollover_plan_make(root_group=root, mode="rule", leaving="archive", archive_label="2026")
        planned = time.perf_counter() - began
        began = time.perf_counter()
        rollover_apply(rollover=rollover)
        applied = time.perf_counter() - began
        began = time.perf_counter()
        rollover_undo(rollover=rollover)
        undone = time.perf_counter() - began
    print(f"plan {planned * 1000:.0f} ms, apply {applied * 1000:.0f} ms (one transaction), undo {undone * 1000:.0f} ms")


def _dashboard(args: argparse.Namespace, created) -> None:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.services import user_create
    from mailing.models import Broadcast, ListAdmin, MailingList, Member
    from org_groups.models import Group, GroupAdmin

    print(f"\n== owner's dashboard at {args.lists} lists and {args.total:,} members")
    with schema_context(created.organization.schema_name):
        owner = user_create(username="dash-owner", email="do@bench.example", password="x-bench-pass", is_owner=True)  # noqa: S106
        root = Group.objects.create(name="株式会社サンプル (ダッシュボード)")
        divisions = 10
        per_division = args.lists // divisions - 1
        lists = []
        for d in range(divisions):
            division_list = MailingList.objects.create(name=f"第{d + 1}事業部 全体", local_part=f"div{d}")
            division = Group.objects.create(
                name=f"第{d + 1}事業部", parent=root, position=d, mailing_list=division_list
            )
            lists.append(division_list)
            for k in range(per_division):
                department = MailingList.objects.create(name=f"第{d + 1}事業部 第{k + 1}部", local_part=f"d{d}-{k}")
                Group.objects.create(name=department.name, parent=division, position=k, mailing_list=department)
                lists.append(department)
        per_list = args.total // len(lists)
        started = time.perf_counter()
        for n, each in enumerate(lists):
            _members(each, per_list, f"l{n}.")
        now = timezone.now()
        Broadcast.objects.bulk_create(
            Broadcast(
                mailing_list=lists[n % len(lists)],
                channel="web",
                subject=f"お知らせ {n}",
                state="sent",
                recipient_count=per_list,
                created_at=now,
            )
            for n in range(1000)
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"seeded {len(lists)} lists, {Member.objects.count():,} members in {time.perf_counter() - started:.1f} s")
        one_list_admin = user_create(username="one-list", email="ol@bench.example", password="x-bench-pass")  # noqa: S106
        ListAdmin.objects.create(mailing_list=lists[5], user=one_list_admin)
        division_admin = user_create(username="division", email="dv@bench.example", password="x-bench-pass")  # noqa: S106
        GroupAdmin.objects.create(user=division_admin, group=Group.objects.get(name="第1事業部"))

    def measure(label: str, user) -> float:
        client = _client(created, user)
        timings, queries, size = [], 0, 0
        for _ in range(args.rounds):
            reset_queries()
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                response = client.get("/")
                timings.append(time.perf_counter() - began)
            assert response.status_code == 200
            queries, size = len(captured), len(response.content)
        if os.environ.get("BENCH_SQL"):
            for query in captured.captured_queries:
                print(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:160]}")
        return _report(label, timings, f"{queries} queries, {size:,} bytes")

    owner_time = measure(f"owner: every group and list ({len(lists)} lists)", owner)
    measure("group admin of one division (20 lists)", division_admin)
    reference = measure("reference: list admin of one list", one_list_admin)
    print(f"owner's dashboard vs one list's: {owner_time / reference:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
