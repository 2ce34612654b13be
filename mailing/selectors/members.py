"""Reads of members for the console's member table and CSV export (F4)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.db.models import Count, Q, QuerySet

from mailing.models import MailingList, Member

# Sort keys offered in the table -> ORDER BY (each ends in id, so pages are stable).
SORTS = {
    "address": ("address_normalized", "id"),
    "-address": ("-address_normalized", "-id"),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "status": ("status", "id"),
    "-status": ("-status", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}
DEFAULT_SORT = "address"


def members_filter(
    *, mailing_list: MailingList, search: str = "", status: str = "", sort: str = ""
) -> QuerySet[Member]:
    """The members shown for a search text (part of the address or name), a status and a sort key.

    Substring search uses the trigram indexes on address_normalized and UPPER(name)."""
    members = Member.objects.filter(mailing_list=mailing_list)
    search = search.strip()
    if search:
        members = members.filter(Q(address_normalized__contains=search.lower()) | Q(name__icontains=search))
    if status in Member.Status.values:
        members = members.filter(status=status)
    return members.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))


def member_status_counts(*, mailing_list: MailingList) -> dict[str, int]:
    rows = Member.objects.filter(mailing_list=mailing_list).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(Member.Status.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


CSV_HEADER = ["address", "name", "status", "source", "created_at", "updated_at"]


def members_csv_rows(members: QuerySet[Member], *, tz) -> Iterator[str]:
    """The CSV text of the members, in pieces: UTF-8 with a BOM so Excel opens Japanese names right.

    Cells starting with = + - @ are prefixed with ' so a spreadsheet never runs them as formulas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield "\ufeff" + flush()
    fields = ("address", "name", "status", "source", "created_at", "updated_at")
    for n, row in enumerate(members.values_list(*fields).iterator(chunk_size=2000), start=1):
        address, name, status, source, created, updated = row
        writer.writerow(
            [
                _cell(address),
                _cell(name),
                status,
                source,
                created.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                updated.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            ]
        )
        if n % 500 == 0:
            yield flush()
    yield flush()


def _cell(value: str) -> str:
    return "'" + value if value[:1] in {"=", "+", "-", "@"} else value


MEMBER_ROW_FIELDS = ("id", "mailing_list_id", "address", "address_normalized", "name", "status", "person_id")


def member_rows(*, member_ids: list[int] | None = None, mailing_list_ids: list[int] | None = None) -> list[dict]:
    """Plain rows of members (no locking) for previews and plans, in id order."""
    members = Member.objects.all()
    if member_ids is not None:
        members = members.filter(pk__in=member_ids)
    if mailing_list_ids is not None:
        members = members.filter(mailing_list_id__in=mailing_list_ids)
    return list(members.order_by("id").values(*MEMBER_ROW_FIELDS))


def member_ids_filter(*, mailing_list: MailingList, search: str = "", status: str = "") -> list[int]:
    """The ids of the members a search and status filter match (the table's "all N matching")."""
    return list(members_filter(mailing_list=mailing_list, search=search, status=status).values_list("id", flat=True))


def addresses_in_list(*, mailing_list_id: int, addresses_normalized: list[str]) -> dict[str, int]:
    """{normalized address: member id} of those addresses that the list already has."""
    rows = Member.objects.filter(mailing_list_id=mailing_list_id, address_normalized__in=addresses_normalized)
    return dict(rows.values_list("address_normalized", "id"))
