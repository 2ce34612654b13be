"""Reads for the organization-wide directory: people with their addresses and lists, and the
addresses that belong to nobody yet."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Min, Q

from mailing.models import Member, Person, PersonAddress

PAGE_SIZE = 50


@dataclass
class Membership:
    list_id: int
    list_name: str
    address: str
    status: str
    archived: bool


@dataclass
class DirectoryEntry:
    person: Person | None
    name: str
    addresses: list[tuple[str, str]] = field(default_factory=list)  # (address, label)
    memberships: list[Membership] = field(default_factory=list)
    address_key: str = ""  # an address without a person: its normalized form

    @property
    def list_names(self) -> list[str]:
        seen: dict[int, str] = {}
        for membership in self.memberships:
            seen.setdefault(membership.list_id, membership.list_name)
        return list(seen.values())


def _memberships(members, key: str) -> dict[object, list[Membership]]:
    """Memberships of some member rows, grouped by `key` (person_id or address_normalized)."""
    grouped: dict[object, list[Membership]] = defaultdict(list)
    rows = members.values(
        key, "address", "status", "mailing_list_id", "mailing_list__name", "mailing_list__archived_at"
    ).order_by("mailing_list__name", "mailing_list_id", "address_normalized")
    for row in rows:
        grouped[row[key]].append(
            Membership(
                list_id=row["mailing_list_id"],
                list_name=row["mailing_list__name"],
                address=row["address"],
                status=row["status"],
                archived=row["mailing_list__archived_at"] is not None,
            )
        )
    return grouped


def directory_people(*, search: str = "", page_number=None) -> tuple[Page, list[DirectoryEntry]]:
    """One page of people whose name, note or any address contains `search`, each with their addresses
    (and labels) and every list any of those addresses is on."""
    people = Person.objects.all()
    search = search.strip()
    if search:
        holders = PersonAddress.objects.filter(address_normalized__contains=search.lower()).values("person_id")
        people = people.filter(Q(name__icontains=search) | Q(note__icontains=search) | Q(pk__in=holders))
    page = Paginator(people.order_by("name", "id"), PAGE_SIZE).get_page(page_number)
    ids = [person.pk for person in page.object_list]
    addresses: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for entry in PersonAddress.objects.filter(person_id__in=ids).order_by("id"):
        addresses[entry.person_id].append((entry.address, entry.label))
    memberships = _memberships(Member.objects.filter(person_id__in=ids), "person_id")
    entries = [
        DirectoryEntry(
            person=person, name=person.name, addresses=addresses[person.pk], memberships=memberships[person.pk]
        )
        for person in page.object_list
    ]
    return page, entries


def directory_unlinked(*, search: str = "", page_number=None) -> tuple[Page, list[DirectoryEntry]]:
    """One page of member addresses that belong to no person, each with the lists it is on."""
    members = Member.objects.filter(person__isnull=True)
    search = search.strip()
    if search:
        members = members.filter(Q(address_normalized__contains=search.lower()) | Q(name__icontains=search))
    grouped = (
        members.values("address_normalized")
        .annotate(address=Min("address"), name=Max("name"), lists=Count("mailing_list_id"))
        .order_by("address_normalized")
    )
    page = Paginator(grouped, PAGE_SIZE).get_page(page_number)
    keys = [row["address_normalized"] for row in page.object_list]
    memberships = _memberships(
        Member.objects.filter(person__isnull=True, address_normalized__in=keys), "address_normalized"
    )
    entries = [
        DirectoryEntry(
            person=None,
            name=row["name"],
            addresses=[(row["address"], "")],
            memberships=memberships[row["address_normalized"]],
            address_key=row["address_normalized"],
        )
        for row in page.object_list
    ]
    return page, entries


def person_get(*, person_id: int) -> Person | None:
    return Person.objects.filter(pk=person_id).first()


def person_memberships(*, person: Person) -> list[Membership]:
    return _memberships(Member.objects.filter(person=person), "person_id")[person.pk]


def person_names(*, person_ids: list[int]) -> dict[int, str]:
    return dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "name"))
