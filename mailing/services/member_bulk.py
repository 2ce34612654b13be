"""Bulk member writes that keep member rows whole: moving rows between lists, copying them, removing
them with a record that can bring them back. Moving and copying members between groups' lists
(org_groups: a group admin's move/copy page, the yearly rollover) is built on these.

A moved member is the same row (same id) in another list: name, status, person, bounce score and
delivery history go with it. A copy is a new row with the same address, name, status and person;
an address already in the target is never added twice. A removed row is returned as a JSON-able
dict that `members_restore` puts back with its old id, relinking its delivery history.

These run inside the caller's transaction and write no audit event: the caller records one for the
whole operation (a thousand "member.add" events would bury the operation that made them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, OperationalError, connection, transaction

from mailing.models import Broadcast, Delivery, MailingList, Member

ROW_FIELDS = (
    "id",
    "mailing_list_id",
    "address",
    "address_normalized",
    "name",
    "status",
    "source",
    "bounce_score",
    "person_id",
    "created_at",
    "updated_at",
)
_TIME_FIELDS = ("created_at", "updated_at")


def concurrent_write_conflict(error: Exception) -> bool:
    """Whether a bulk write failed only because another session wrote the same rows at the same time
    (a duplicate address that arrived meanwhile, or a deadlock PostgreSQL broke): worth trying again."""
    if isinstance(error, IntegrityError):
        return True
    return isinstance(error, OperationalError) and getattr(error.__cause__, "sqlstate", "") == "40P01"


def _as_json(row: dict) -> dict:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in row.items()}


def _from_json(row: dict) -> dict:
    return {key: datetime.fromisoformat(value) if key in _TIME_FIELDS else value for key, value in row.items()}


def lists_lock(*, list_ids: Iterable[int]) -> list[int]:
    """Lock list rows in id order (every bulk operation does, so two never deadlock); returns the ids found.

    FOR NO KEY UPDATE, not FOR UPDATE: two bulk operations on a list wait for each other, but a member
    joining by mail does not wait for them, nor they for it: Django's foreign keys are checked at
    COMMIT (DEFERRABLE INITIALLY DEFERRED) with FOR KEY SHARE on the list row, which FOR UPDATE would
    block while our write waited on the joining row: a deadlock."""
    ids = sorted(set(list_ids))
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {MailingList._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
            [ids],
        )
        return [row[0] for row in cursor.fetchall()]


def members_lock(*, member_ids: Iterable[int], mailing_list_ids: Iterable[int] | None = None) -> list[dict]:
    """The member rows (dicts of ROW_FIELDS) that still exist (and are in one of `mailing_list_ids`),
    locked against concurrent changes (a leave by mail waits until the caller commits)."""
    members = Member.objects.select_for_update().filter(pk__in=list(member_ids)).order_by("pk")
    if mailing_list_ids is not None:
        members = members.filter(mailing_list_id__in=list(mailing_list_ids))
    return [_as_json(row) for row in members.values(*ROW_FIELDS)]


@transaction.atomic
def members_relocate(*, moves: list[tuple[int, int]]) -> int:
    """Put each member row (member id, target list id) into its target list; returns rows moved.

    Two statements, so that chains of moves (2年 -> 3年 while 1年 -> 2年, a parent with a child in
    each) never trip the (list, address) uniqueness midway: PostgreSQL checks it row by row. First each
    row goes to its list under a key no address can have ('#' + id), then the keys are put back. A
    duplicate in the final state still fails (IntegrityError): the caller decides duplicates first.
    """
    if not moves:
        return 0
    ids = [member_id for member_id, _ in moves]
    targets = [target for _, target in moves]
    table = Member._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, address_normalized FROM {table} WHERE id = ANY(%s)",
            [ids],
        )
        keys = dict(cursor.fetchall())
        cursor.execute(
            f"UPDATE {table} AS m SET mailing_list_id = v.target, address_normalized = '#' || m.id::text, "
            "updated_at = now() FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, target) WHERE m.id = v.id",
            [ids, targets],
        )
        moved = cursor.rowcount
        found = [member_id for member_id in ids if member_id in keys]
        cursor.execute(
            f"UPDATE {table} AS m SET address_normalized = v.key "
            "FROM unnest(%s::bigint[], %s::text[]) AS v(id, key) WHERE m.id = v.id",
            [found, [keys[member_id] for member_id in found]],
        )
    return moved


@transaction.atomic
def members_copy(*, member_ids: Iterable[int], target_list_id: int) -> dict[int, int]:
    """Copy member rows into a list (address, name, status, person); addresses it already has are
    skipped. Returns {source member id: new member id} for the rows made."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    table = Member._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (mailing_list_id, address, address_normalized, name, status, source, "
            "bounce_score, person_id, created_at, updated_at) "
            f"SELECT %s, address, address_normalized, name, status, source, bounce_score, person_id, now(), now() "
            f"FROM {table} WHERE id = ANY(%s) ORDER BY id "
            "ON CONFLICT (mailing_list_id, address_normalized) DO NOTHING RETURNING id, address_normalized",
            [target_list_id, ids],
        )
        made = {key: new_id for new_id, key in cursor.fetchall()}
        cursor.execute(f"SELECT id, address_normalized FROM {table} WHERE id = ANY(%s)", [ids])
        sources = cursor.fetchall()
    return {source_id: made[key] for source_id, key in sources if key in made}


@transaction.atomic
def members_delete(*, member_ids: Iterable[int]) -> list[dict]:
    """Remove member rows; returns them (JSON-able) for `members_restore`. Deliveries keep their
    address and lose the link (as when a member leaves)."""
    members = Member.objects.filter(pk__in=list(member_ids)).order_by("pk")
    rows = [_as_json(row) for row in members.values(*ROW_FIELDS)]
    if rows:
        Delivery.objects.filter(member_id__in=[row["id"] for row in rows]).update(member=None)
        Member.objects.filter(pk__in=[row["id"] for row in rows]).delete()
    return rows


@transaction.atomic
def members_restore(*, rows: list[dict]) -> int:
    """Put removed member rows back with their old ids and fields, relinking the deliveries of their
    list's broadcasts that were sent to their address. Raises IntegrityError if the list has the
    address again meanwhile (the caller reports it)."""
    if not rows:
        return 0
    members = [_from_json(row) for row in rows]
    columns = [(field, Member._meta.get_field(field.removesuffix("_id")).column) for field in ROW_FIELDS]
    types = {
        "id": "bigint",
        "mailing_list_id": "bigint",
        "person_id": "bigint",
        "bounce_score": "integer",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
    }
    # Raw INSERT: the model's auto_now fields would otherwise replace the times being restored.
    table = Member._meta.db_table
    names = ", ".join(column for _, column in columns)
    arrays = ", ".join("%s::" + types.get(field, "text") + "[]" for field, _ in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})",
            [[member[field] for member in members] for field, _ in columns],
        )
        cursor.execute(
            f"UPDATE {Delivery._meta.db_table} AS d SET member_id = m.id "
            f"FROM {table} AS m, {Broadcast._meta.db_table} AS b "
            "WHERE m.id = ANY(%s) AND d.member_id IS NULL AND d.broadcast_id = b.id "
            "AND b.mailing_list_id = m.mailing_list_id AND lower(d.address) = m.address_normalized",
            [[member["id"] for member in members]],
        )
    return len(members)
