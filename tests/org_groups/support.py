"""Test data for groups: a school tree, members with people and history, snapshots of lists."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, connections

from mailing.models import Broadcast, Delivery, MailingList, Member, Person, PersonAddress, address_normalize
from org_groups.models import Group
from tests.factories import unique
from tests.factories.console import group_make, managed_list_make

SURNAMES = ["山田", "鈴木", "佐藤", "田中", "高橋", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "山本"]
GIVEN = ["太郎", "花子", "次郎", "美咲", "翔太", "陽菜", "健", "さくら", "大翔", "結衣"]
DOMAINS = ["docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "gmail.com", "example.co.jp"]


def carrier_address(n: int, prefix: str = "") -> str:
    domain = DOMAINS[n % len(DOMAINS)]
    local = f"{prefix}user..{n}." if domain in {"docomo.ne.jp", "ezweb.ne.jp"} else f"{prefix}user{n}"
    return f"{local}@{domain}"


def members_add(mailing_list: MailingList, count: int, *, prefix: str = "", start: int = 0) -> list[Member]:
    """`count` members with carrier and PC addresses and Japanese names, in bulk."""
    rows = []
    for n in range(start, start + count):
        address = carrier_address(n, prefix)
        rows.append(
            Member(
                mailing_list=mailing_list,
                address=address,
                address_normalized=address_normalize(address),
                name=f"{SURNAMES[n % len(SURNAMES)]} {GIVEN[n % len(GIVEN)]}{n}",
                status=Member.Status.SUSPENDED if n % 10 == 3 else Member.Status.ACTIVE,
                source=Member.Source.IMPORT,
            )
        )
    return Member.objects.bulk_create(rows, batch_size=2000)


def guardian_make(mailing_list: MailingList, name: str, *addresses: str) -> tuple[Person, list[Member]]:
    """A guardian (a person) with several addresses, each a member of the list."""
    person = Person.objects.create(name=name)
    members = []
    for address in addresses:
        PersonAddress.objects.create(person=person, address=address, address_normalized=address_normalize(address))
        members.append(
            Member.objects.create(
                mailing_list=mailing_list,
                address=address,
                address_normalized=address_normalize(address),
                name=name,
                person=person,
            )
        )
    return person, members


def history_make(mailing_list: MailingList, members: list[Member]) -> Broadcast:
    """A past broadcast of the list with one sent delivery per member (their history)."""
    broadcast = Broadcast.objects.create(
        mailing_list=mailing_list, channel=Broadcast.Channel.WEB, subject="運動会のお知らせ", state="sent"
    )
    Delivery.objects.bulk_create(
        Delivery(broadcast=broadcast, member=m, address=m.address, token=secrets.token_hex(16), status="sent")
        for m in members
    )
    return broadcast


def list_state(*lists: MailingList) -> list[tuple]:
    """Everything that must survive a move and its undo: id, list, address, name, status, person, times."""
    return list(
        Member.objects.filter(mailing_list__in=lists)
        .order_by("id")
        .values_list("id", "mailing_list_id", "address", "name", "status", "person_id", "created_at")
    )


@dataclass
class School:
    root: Group
    grades: list[Group] = field(default_factory=list)
    classes: list[list[MailingList]] = field(default_factory=list)  # classes[grade][class]
    grade_lists: list[MailingList] = field(default_factory=list)

    def all_lists(self) -> list[MailingList]:
        return [*self.grade_lists, *(each for grade in self.classes for each in grade)]


def school_make(*, grades: int = 6, classes: int = 4, per_class: int = 0, grade_lists: bool = False) -> School:
    """A school group with `grades` grades of `classes` classes (1年1組...), each class with a list
    of `per_class` members (unique addresses per school)."""
    tag = unique("s")
    school = School(root=group_make(f"{tag} 市立さくら小学校 (テスト)"))
    serial = 0
    for g in range(1, grades + 1):
        grade_list = managed_list_make(name=f"{g}年 保護者全体", local_part=f"{tag}-{g}") if grade_lists else None
        grade = group_make(f"{g}年", parent=school.root, mailing_list=grade_list)
        school.grades.append(grade)
        if grade_list is not None:
            school.grade_lists.append(grade_list)
        lists = []
        for c in range(1, classes + 1):
            class_list = managed_list_make(name=f"{g}年{c}組", local_part=f"{tag}-{g}-{c}")
            group_make(f"{g}年{c}組", parent=grade, mailing_list=class_list)
            if per_class:
                members_add(class_list, per_class, prefix=f"{tag}.", start=serial)
                serial += per_class
            lists.append(class_list)
        school.classes.append(lists)
    return school


def in_thread(target: Callable[[], object], tenant) -> tuple[threading.Thread, dict]:
    """Run `target` in a thread with its own database connection in `tenant`'s schema."""
    outcome: dict = {}

    def run() -> None:
        try:
            connection.set_tenant(tenant)
            outcome["result"] = target()
        except BaseException as error:  # reported to the test, which asserts on it
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def wait_for_lock_waiter(timeout: float = 10) -> None:
    """Wait until another session waits on a lock held by this one (pg_locks is live, not snapshotted)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("no session started waiting for our locks")
