"""The yearly rollover of a school (進級・クラス替え): every class moves up a grade.

The school is a group whose child groups are its grades in order (1年, 2年, ... by position); each
grade's child groups are its classes, each with a list; a grade may have a list of its own. The class
lists stay with their classes (their address, senders and admins are the class's: 2-1@ is 2年1組
every year); the members move:

- by rule: class k of grade g -> the class of grade g+1 with the same letter (the part of the name
  after what the grade's classes share, e.g. "1組" of "2年1組"; by position if the letters differ);
  a grade's own list -> the next grade's list;
- or by a CSV file: address or name -> new class (UTF-8, or Shift_JIS as Excel writes it). Members
  the file does not mention follow the rule; a row naming one address of a person moves the
  person's other addresses on that list too.

The last grade leaves: its members go to read-only archive lists (a new archive group under the
school, one list per class, e.g. `6-1-2026`), or are removed, as the owner chooses. The first grade
ends up empty, ready for the new entrants.

`rollover_plan_make` computes the full plan (per list: who comes, who goes; rows that matched
nothing) and stores it; `rollover_apply` recomputes it under locks and applies it in one transaction
only if it is still the plan that was shown; `rollover_undo` reverses everything it did.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from mailing.errors import MailingUserError
from mailing.models import address_normalize
from mailing.selectors.lists import lists_by_ids
from mailing.selectors.members import member_rows
from mailing.selectors.people import person_names
from mailing.services.lists import list_archive_create, list_archive_discard, list_local_part_free
from mailing.services.member_bulk import (
    concurrent_write_conflict,
    lists_lock,
    members_delete,
    members_relocate,
    members_restore,
)
from mailing.services.member_import import csv_decode
from org_groups.errors import OrgGroupsUserError, PlanOutdatedError
from org_groups.models import Group, Rollover
from org_groups.selectors import group_rows

MAX_CSV_BYTES = 5 * 1024 * 1024
ADDRESS_HEADERS = {"address", "email", "e-mail", "mail", "メールアドレス", "メール", "アドレス"}
NAME_HEADERS = {"name", "名前", "氏名", "お名前", "児童名", "生徒名"}
CLASS_HEADERS = {"class", "new class", "クラス", "新クラス", "新しいクラス", "組", "新組"}
LIST_PREVIEW_NAMES = 500  # names listed per list in the plan (counts are always complete)


def _key(text: str) -> str:
    """Names and class names compared as people type them: NFKC (全角/半角), no spaces, case folded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


@dataclass
class ClassInfo:
    group_id: int
    name: str
    list_id: int | None
    letter: str = ""


@dataclass
class GradeInfo:
    group_id: int
    name: str
    list_id: int | None
    classes: list[ClassInfo] = field(default_factory=list)


def school_structure(root: Group) -> list[GradeInfo]:
    """The grades of a school group, in order, with their classes (archived groups left out)."""
    rows = group_rows()
    children: dict[int | None, list] = defaultdict(list)
    for row in rows:
        if not row.archived:
            children[row.parent_id].append(row)
    grades = []
    for grade_row in children.get(root.pk, []):
        grade = GradeInfo(grade_row.id, grade_row.name, grade_row.mailing_list_id)
        grade.classes = [ClassInfo(c.id, c.name, c.mailing_list_id) for c in children.get(grade_row.id, [])]
        _letters(grade.classes)
        grades.append(grade)
    return grades


def _letters(classes: list[ClassInfo]) -> None:
    """The class letter: the name without what all the grade's class names start with ("2年1組" -> "1組")."""
    keys = [_key(each.name) for each in classes]
    if len(keys) < 2:
        for each in classes:
            each.letter = ""
        return
    prefix = keys[0]
    for key in keys[1:]:
        while not key.startswith(prefix):
            prefix = prefix[:-1]
    for each, key in zip(classes, keys, strict=True):
        each.letter = key[len(prefix) :]


def _class_map(source: GradeInfo, target: GradeInfo) -> dict[int, int]:
    """{class list id of `source`: class list id of `target`} by letter where the letters match (1組 ->
    1組, A組 -> A組), else by position (the names share no letter, e.g. renamed classes)."""
    sources = [c for c in source.classes if c.list_id]
    targets = [c for c in target.classes if c.list_id]
    by_letter = {c.letter: c for c in targets if c.letter}
    if any(c.letter in by_letter for c in sources):
        # Classes whose letter the next grade lacks have nowhere to go (the plan says so).
        return {c.list_id: by_letter[c.letter].list_id for c in sources if c.letter in by_letter}
    return {c.list_id: t.list_id for c, t in zip(sources, targets, strict=False)}


@dataclass
class CsvRow:
    line: int
    key: str  # the address or name as written
    by_address: bool
    class_name: str


def rollover_csv_read(data: bytes) -> tuple[list[CsvRow], str]:
    """Rows of (address or name, new class) and the encoding they were read with."""
    if len(data) > MAX_CSV_BYTES:
        raise OrgGroupsUserError(_("The file is too large (at most 5 MB)."))
    try:
        text, encoding = csv_decode(data)
    except MailingUserError as error:
        raise OrgGroupsUserError(str(error)) from error
    table = list(csv.reader(io.StringIO(text, newline="")))
    if not table:
        raise OrgGroupsUserError(_("The file is empty."))
    header = [_key(cell) for cell in table[0]]
    address_col = next((i for i, cell in enumerate(header) if cell in ADDRESS_HEADERS), None)
    name_col = next((i for i, cell in enumerate(header) if cell in NAME_HEADERS), None)
    class_col = next((i for i, cell in enumerate(header) if cell in {_key(h) for h in CLASS_HEADERS}), None)
    has_header = class_col is not None and (address_col is not None or name_col is not None)
    if not has_header:
        address_col, name_col, class_col = 0, None, 1
    rows = []
    for line, cells in enumerate(table[1:] if has_header else table, start=2 if has_header else 1):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(index: int | None, cells: list[str] = cells) -> str:
            return cells[index].strip() if index is not None and index < len(cells) else ""

        address, name, class_name = cell(address_col), cell(name_col), cell(class_col)
        if address and "@" in address:
            rows.append(CsvRow(line, address, True, class_name))
        else:
            rows.append(CsvRow(line, name or address, False, class_name))
    return rows, encoding


# --- The plan


def _plan_compute(rollover: Rollover) -> dict:
    root = rollover.root_group
    if root is None:
        raise OrgGroupsUserError(_("The school group was deleted."))
    grades = school_structure(root)
    if len(grades) < 2:
        raise OrgGroupsUserError(
            _("%(group)s needs at least two grades (groups under it) to move up.") % {"group": root.name}
        )
    list_ids = [g.list_id for g in grades if g.list_id] + [c.list_id for g in grades for c in g.classes if c.list_id]
    lists = lists_by_ids(list_ids=list_ids)
    if any(mailing_list.archived_at is not None for mailing_list in lists.values()):
        raise OrgGroupsUserError(_("A list of this school is archived; take it out of the school's grades first."))
    rows = member_rows(mailing_list_ids=list_ids)
    by_list: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_list[row["mailing_list_id"]].append(row)
    grade_of_list = {}
    for index, grade in enumerate(grades):
        if grade.list_id:
            grade_of_list[grade.list_id] = index
        for each in grade.classes:
            if each.list_id:
                grade_of_list[each.list_id] = index
    class_lists = {c.list_id for g in grades for c in g.classes if c.list_id}
    last = len(grades) - 1

    # Rule: where each list's members go (None: they leave the school).
    rule_target: dict[int, int | None] = {}
    for index, grade in enumerate(grades):
        mapping = _class_map(grade, grades[index + 1]) if index < last else {}
        for each in grade.classes:
            if each.list_id:
                rule_target[each.list_id] = mapping.get(each.list_id, -1) if index < last else None
        if grade.list_id:
            rule_target[grade.list_id] = (grades[index + 1].list_id or -1) if index < last else None

    # CSV: members it places, by member id -> target class list id.
    assigned: dict[int, int] = {}
    unmatched: list[dict] = []
    if rollover.mode == Rollover.Mode.CSV:
        assigned, unmatched = _csv_assign(rollover, grades, by_list, class_lists, grade_of_list)

    moves: list[list[int]] = []  # [member id, from list, to list]
    leavers: list[list[int]] = []  # [member id, from list]
    stays: list[list[int]] = []  # [member id, list]: nowhere to go (a class without counterpart)
    by_rule: set[int] = set()
    for list_id in list_ids:
        for row in by_list.get(list_id, []):
            target = assigned.get(row["id"]) if list_id in class_lists else None
            if target is None:
                target = rule_target.get(list_id)
                if target is not None and target != -1:
                    by_rule.add(row["id"])
            if target is None:
                leavers.append([row["id"], list_id])
            elif target == -1:
                stays.append([row["id"], list_id])
            elif target != list_id:
                moves.append([row["id"], list_id, target])

    # Final state: who stays where; an incoming address a list will hold anyway is a merge (the
    # incoming row is removed, the undo restores it).
    moving_out = {m[0] for m in moves} | {m[0] for m in leavers}
    final: dict[int, set[str]] = {
        list_id: {row["address_normalized"] for row in by_list.get(list_id, []) if row["id"] not in moving_out}
        for list_id in list_ids
    }
    row_by_id = {row["id"]: row for row in rows}
    kept_moves, merges = [], []
    for move in sorted(moves):
        key = row_by_id[move[0]]["address_normalized"]
        if key in final[move[2]]:
            merges.append(move)
        else:
            final[move[2]].add(key)
            kept_moves.append(move)

    archive = None
    if rollover.leaving == Rollover.Leaving.ARCHIVE:
        leaving_lists = sorted({list_id for _, list_id in leavers})
        archive = {
            "group_name": rollover.archive_label,
            "lists": [
                {
                    "from_list": list_id,
                    "name": f"{lists[list_id].name} ({rollover.archive_label})",
                    "local_part": f"{lists[list_id].local_part}-{_archive_suffix(rollover)}",
                }
                for list_id in leaving_lists
            ],
        }

    names = person_names(person_ids=list({row["person_id"] for row in rows if row["person_id"]}))
    summary = _summary(
        list_ids, lists, by_list, row_by_id, kept_moves, merges, leavers, stays, rollover, names, by_rule
    )
    return {
        "grades": [
            {"name": g.name, "list_id": g.list_id, "classes": [[c.name, c.list_id] for c in g.classes]} for g in grades
        ],
        "moves": kept_moves,
        "merges": merges,
        "leavers": sorted(leavers),
        "stays": sorted(stays),
        "archive": archive,
        "unmatched": unmatched,
        "lists": summary,
        "members": len(rows),
    }


def _archive_suffix(rollover: Rollover) -> str:
    suffix = re.sub(r"[^a-z0-9]+", "-", rollover.archive_label.lower()).strip("-")
    return suffix or str(timezone.localdate().year)


def _csv_assign(rollover, grades, by_list, class_lists, grade_of_list) -> tuple[dict[int, int], list[dict]]:
    rows, _encoding = rollover_csv_read(bytes(rollover.csv_raw))
    classes: dict[str, int] = {}
    for grade in grades:
        for each in grade.classes:
            if each.list_id:
                classes[_key(each.name)] = each.list_id
    lists = lists_by_ids(list_ids=list(class_lists))
    for list_id, mailing_list in lists.items():
        classes.setdefault(_key(mailing_list.local_part), list_id)
        classes.setdefault(_key(mailing_list.name), list_id)
    members = [row for list_id in class_lists for row in by_list.get(list_id, [])]
    by_address: dict[str, list[dict]] = defaultdict(list)
    by_name: dict[str, list[dict]] = defaultdict(list)
    person_ids = {row["person_id"] for row in members if row["person_id"]}
    people = person_names(person_ids=list(person_ids))
    for row in members:
        by_address[row["address_normalized"]].append(row)
        by_name[_key(row["name"])].append(row)
        if row["person_id"] and _key(people.get(row["person_id"], "")) != _key(row["name"]):
            by_name[_key(people.get(row["person_id"], ""))].append(row)
    assigned: dict[int, int] = {}
    unmatched: list[dict] = []

    def miss(entry: CsvRow, reason: str) -> None:
        unmatched.append({"line": entry.line, "key": entry.key, "class": entry.class_name, "reason": reason})

    for entry in rows:
        target = classes.get(_key(entry.class_name))
        if target is None:
            miss(entry, _("no such class") if entry.class_name else _("no class given"))
            continue
        found = (
            by_address.get(address_normalize(entry.key), []) if entry.by_address else by_name.get(_key(entry.key), [])
        )
        if not found:
            miss(entry, _("no member with this address") if entry.by_address else _("no member with this name"))
            continue
        # A parent with children in two grades: the one a grade below the new class is meant.
        source_lists = {row["mailing_list_id"] for row in found}
        if len(source_lists) > 1:
            below = {lid for lid in source_lists if grade_of_list[lid] == grade_of_list[target] - 1}
            same = {lid for lid in source_lists if grade_of_list[lid] == grade_of_list[target]}
            source_lists = below or same
            if len(source_lists) != 1:
                miss(entry, _("found in several classes: give the address instead"))
                continue
        source = next(iter(source_lists))
        chosen = [row for row in found if row["mailing_list_id"] == source]
        # The person's other addresses on that list go along.
        persons = {row["person_id"] for row in chosen if row["person_id"]}
        chosen += [row for row in by_list.get(source, []) if row["person_id"] in persons and row not in chosen]
        for row in chosen:
            if row["id"] in assigned and assigned[row["id"]] != target:
                miss(entry, _("this member is given two different classes"))
            assigned[row["id"]] = target
    return assigned, unmatched


def _summary(list_ids, lists, by_list, row_by_id, moves, merges, leavers, stays, rollover, names, by_rule):
    """Per list: who comes (from where), who goes (to where), how many stay; names capped per list."""
    coming: dict[int, list] = defaultdict(list)
    going: dict[int, list] = defaultdict(list)

    def who(member_id: int) -> dict:
        row = row_by_id[member_id]
        name = row["name"] or names.get(row["person_id"], "")
        return {"id": member_id, "address": row["address"], "name": name, "by_rule": member_id in by_rule}

    for member_id, source, target in moves:
        coming[target].append(who(member_id) | {"other": lists[source].name})
        going[source].append(who(member_id) | {"other": lists[target].name})
    for member_id, source, target in merges:
        going[source].append(who(member_id) | {"other": lists[target].name, "merged": True})
    leaving_label = _("archive") if rollover.leaving == Rollover.Leaving.ARCHIVE else _("removed")
    for member_id, source in leavers:
        going[source].append(who(member_id) | {"other": leaving_label, "leaves": True})
    stay_count: dict[int, int] = defaultdict(int)
    for _member_id, list_id in stays:
        stay_count[list_id] += 1
    summary = []
    for list_id in list_ids:
        current = len(by_list.get(list_id, []))
        out = len(going[list_id])
        summary.append(
            {
                "list_id": list_id,
                "name": lists[list_id].name,
                "before": current,
                "after": current - out + len(coming[list_id]),
                "coming_count": len(coming[list_id]),
                "going_count": out,
                "unplaced": stay_count[list_id],
                "coming": coming[list_id][:LIST_PREVIEW_NAMES],
                "going": going[list_id][:LIST_PREVIEW_NAMES],
            }
        )
    return summary


def _signature(plan: dict) -> tuple:
    return (plan["moves"], plan["merges"], plan["leavers"], plan["stays"], plan["archive"])


@transaction.atomic
def rollover_plan_make(
    *,
    root_group: Group,
    mode: str,
    leaving: str,
    archive_label: str = "",
    csv_data: bytes = b"",
    csv_filename: str = "",
    actor: Any = None,
) -> Rollover:
    """Read the school and (for CSV mode) the file, and keep the full plan. Changes no member."""
    if mode not in Rollover.Mode.values or leaving not in Rollover.Leaving.values:
        raise OrgGroupsUserError(_("Choose how classes are filled and what happens to the leaving grade."))
    encoding = ""
    if mode == Rollover.Mode.CSV:
        if not csv_data:
            raise OrgGroupsUserError(_("Choose the CSV file of the new classes."))
        _rows, encoding = rollover_csv_read(csv_data)
    archive_label = " ".join(archive_label.split())[:100] or _("Graduated %(year)d") % {
        "year": timezone.localdate().year
    }
    rollover = Rollover(
        root_group=root_group,
        root_label=root_group.name,
        mode=mode,
        leaving=leaving,
        archive_label=archive_label,
        csv_filename=csv_filename[:255],
        csv_encoding=encoding,
        csv_raw=csv_data,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    rollover.plan = _plan_compute(rollover)
    rollover.save()
    return rollover


def rollover_plan_refresh(*, rollover: Rollover) -> Rollover:
    """Make the plan again from the lists as they are now (after PlanOutdatedError)."""
    rollover.plan = _plan_compute(rollover)
    rollover.save(update_fields=["plan"])
    return rollover


def rollover_apply(*, rollover: Rollover, actor: Any = None) -> Rollover:
    """Apply the plan that was shown, all of it in one transaction, or nothing.

    The school's lists are locked and the plan recomputed: if anything changed since it was shown
    (a member joined, left or was moved, even while applying), PlanOutdatedError is raised and
    nothing changes."""
    try:
        return _apply(rollover=rollover, actor=actor)
    except (IntegrityError, OperationalError) as error:
        if not concurrent_write_conflict(error):
            raise
        raise PlanOutdatedError(
            _("The lists changed while applying; nothing was applied. Review the new plan.")
        ) from error


@transaction.atomic
def _apply(*, rollover: Rollover, actor: Any) -> Rollover:
    rollover = Rollover.objects.select_for_update().get(pk=rollover.pk)
    if rollover.state != Rollover.State.PLANNED:
        raise OrgGroupsUserError(_("This rollover has already been applied."))
    plan = rollover.plan
    involved = [entry["list_id"] for entry in plan["lists"]]
    lists_lock(list_ids=involved)
    fresh = _plan_compute(rollover)
    if _signature(fresh) != _signature(plan):
        raise PlanOutdatedError(
            _("The lists changed since this plan was made; nothing was applied. Review the new plan.")
        )
    applied: dict[str, Any] = {"moves": [], "removed": [], "archive_group": None, "archive_lists": []}
    lists = lists_by_ids(list_ids=involved)
    relocations = [(member_id, target) for member_id, _source, target in plan["moves"]]
    applied["moves"] = [list(move) for move in plan["moves"]]
    if plan["archive"]:
        root = rollover.root_group
        archive_group = Group.objects.create(
            name=plan["archive"]["group_name"],
            parent=root,
            position=(root.children.count()),
            archived_at=timezone.now(),
        )
        applied["archive_group"] = archive_group.pk
        archive_of: dict[int, int] = {}
        for position, entry in enumerate(plan["archive"]["lists"]):
            like = lists[entry["from_list"]]
            archive_list = list_archive_create(
                like=like,
                name=entry["name"],
                local_part=list_local_part_free(base=entry["local_part"]),
                actor=actor,
            )
            Group.objects.create(
                name=archive_list.name,
                parent=archive_group,
                position=position,
                mailing_list=archive_list,
                archived_at=archive_group.archived_at,
            )
            archive_of[entry["from_list"]] = archive_list.pk
            applied["archive_lists"].append(archive_list.pk)
        leaving_moves = [[member_id, source, archive_of[source]] for member_id, source in plan["leavers"]]
        relocations += [(member_id, target) for member_id, _source, target in leaving_moves]
        applied["moves"] += leaving_moves
        removals = [member_id for member_id, _source, _target in plan["merges"]]
    else:
        removals = [member_id for member_id, _source, _target in plan["merges"]] + [
            member_id for member_id, _source in plan["leavers"]
        ]
    applied["removed"] = members_delete(member_ids=removals)
    members_relocate(moves=relocations)
    rollover.applied = applied
    rollover.state = Rollover.State.APPLIED
    rollover.applied_at = timezone.now()
    rollover.save(update_fields=["applied", "state", "applied_at"])
    audit_record(
        actor=actor,
        action="rollover.apply",
        obj=rollover,
        object_label=rollover.root_label,
        after={
            "moved": len(plan["moves"]),
            "merged": len(plan["merges"]),
            "leaving": len(plan["leavers"]),
            "leaving_to": rollover.leaving,
            "archive_lists": applied["archive_lists"],
            "unmatched_rows": len(plan["unmatched"]),
        },
    )
    return rollover


@dataclass
class RolloverUndoResult:
    restored: int = 0
    skipped: list[str] = field(default_factory=list)


@transaction.atomic
def rollover_undo(*, rollover: Rollover, actor: Any = None) -> RolloverUndoResult:
    """Undo a whole rollover: every moved member back to the list they came from (same rows), every
    removed member back with their old id and history, the archive lists and group deleted.
    Members who left since stay gone; an address that is back in its old list meanwhile is reported."""
    rollover = Rollover.objects.select_for_update().get(pk=rollover.pk)
    if rollover.state != Rollover.State.APPLIED:
        raise OrgGroupsUserError(_("Only an applied rollover can be undone."))
    applied = rollover.applied
    involved = {entry["list_id"] for entry in rollover.plan["lists"]} | set(applied["archive_lists"])
    lists_lock(list_ids=involved)
    result = RolloverUndoResult()
    moves = applied["moves"]
    current = {row["id"]: row for row in member_rows(member_ids=[m[0] for m in moves])}
    back = []
    for member_id, source, target in moves:
        row = current.get(member_id)
        if row is None or row["mailing_list_id"] != target:
            result.skipped.append(_("member %(id)d: no longer where the rollover put them") % {"id": member_id})
            continue
        back.append((member_id, source))
    # Addresses that arrived in the old lists since the rollover would make duplicates: leave those.
    staying = member_rows(mailing_list_ids=list(involved))
    moving_ids = {member_id for member_id, _ in back}
    final: dict[int, set[str]] = defaultdict(set)
    for row in staying:
        if row["id"] not in moving_ids:
            final[row["mailing_list_id"]].add(row["address_normalized"])
    kept_back = []
    for member_id, source in back:
        key = current[member_id]["address_normalized"]
        if key in final[source]:
            result.skipped.append(
                _("%(address)s: the list has this address again") % {"address": current[member_id]["address"]}
            )
            continue
        final[source].add(key)
        kept_back.append((member_id, source))
    restore = []
    for row in applied["removed"]:
        if row["address_normalized"] in final[row["mailing_list_id"]]:
            result.skipped.append(_("%(address)s: the list has this address again") % {"address": row["address"]})
            continue
        final[row["mailing_list_id"]].add(row["address_normalized"])
        restore.append(row)
    members_relocate(moves=kept_back)
    members_restore(rows=restore)
    result.restored = len(kept_back) + len(restore)
    for mailing_list in lists_by_ids(list_ids=applied["archive_lists"]).values():
        try:
            Group.objects.filter(mailing_list=mailing_list).delete()
            list_archive_discard(mailing_list=mailing_list, actor=actor)
        except MailingUserError as error:
            result.skipped.append(str(error))
    if applied["archive_group"]:
        group = Group.objects.filter(pk=applied["archive_group"]).first()
        if group is not None and not group.children.exists():
            group.delete()
    rollover.state = Rollover.State.UNDONE
    rollover.undone_at = timezone.now()
    rollover.save(update_fields=["state", "undone_at"])
    audit_record(
        actor=actor,
        action="rollover.undo",
        obj=rollover,
        object_label=rollover.root_label,
        after={"restored": result.restored, "skipped": result.skipped[:1000]},
    )
    return result
