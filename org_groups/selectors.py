"""Reads of the group tree: subtrees, group admins' lists, the dashboard's tree with counts.

The tree of an organization is small (a school: a few dozen groups; a company: hundreds), so it is
read whole in one query and walked in Python rather than with recursive SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mailing.selectors.lists import list_member_counts, lists_all, lists_last_broadcast
from org_groups.models import Group, GroupAdmin, MemberTransfer, Rollover


@dataclass
class GroupRow:
    id: int
    name: str
    parent_id: int | None
    position: int
    mailing_list_id: int | None
    archived: bool


def group_rows() -> list[GroupRow]:
    return [
        GroupRow(g["id"], g["name"], g["parent_id"], g["position"], g["mailing_list_id"], g["archived_at"] is not None)
        for g in Group.objects.order_by("position", "id").values(
            "id", "name", "parent_id", "position", "mailing_list_id", "archived_at"
        )
    ]


def _children(rows: list[GroupRow]) -> dict[int | None, list[GroupRow]]:
    children: dict[int | None, list[GroupRow]] = defaultdict(list)
    for row in rows:
        children[row.parent_id].append(row)
    return children


def group_subtree(group_id: int, rows: list[GroupRow] | None = None) -> list[GroupRow]:
    """The group and everything under it, in tree order."""
    rows = group_rows() if rows is None else rows
    by_id = {row.id: row for row in rows}
    if group_id not in by_id:
        return []
    children = _children(rows)
    result: list[GroupRow] = []
    stack = [by_id[group_id]]
    while stack:
        row = stack.pop()
        result.append(row)
        stack.extend(reversed(children.get(row.id, [])))
    return result


def group_subtree_ids(group_id: int, rows: list[GroupRow] | None = None) -> set[int]:
    return {row.id for row in group_subtree(group_id, rows)}


def group_admin_subtree_list_ids(user: Any) -> list[set[int]]:
    """For each group a user administers, the ids of the lists in its subtree."""
    if not getattr(user, "is_authenticated", False):
        return []
    roots = list(GroupAdmin.objects.filter(user=user).values_list("group_id", flat=True))
    if not roots:
        return []
    rows = group_rows()
    return [{row.mailing_list_id for row in group_subtree(root, rows) if row.mailing_list_id} for root in roots]


def group_admin_list_ids(user: Any) -> set[int]:
    """Every list a group admin manages: the lists of all groups under the groups they administer."""
    result: set[int] = set()
    for ids in group_admin_subtree_list_ids(user):
        result |= ids
    return result


def list_ids_administered_by(user: Any) -> set[int]:
    """org_groups' source of roles for accounts.policy (settings.CONSOLE_LIST_ADMIN_SOURCES): every
    list in the subtrees of the groups this user administers."""
    return group_admin_list_ids(user)


def list_id_sets_administered_by(user: Any) -> list[set[int]]:
    """org_groups' source of list sets for accounts.policy (settings.CONSOLE_LIST_SET_SOURCES): one set
    per group administered, its subtree's lists; members move and copy within one set."""
    return group_admin_subtree_list_ids(user)


def group_admin_group_ids(user: Any) -> set[int]:
    """The groups (subtrees included) a user administers."""
    if not getattr(user, "is_authenticated", False):
        return set()
    roots = list(GroupAdmin.objects.filter(user=user).values_list("group_id", flat=True))
    rows = group_rows() if roots else []
    result: set[int] = set()
    for root in roots:
        result |= group_subtree_ids(root, rows)
    return result


def group_get(*, group_id: int) -> Group | None:
    return Group.objects.select_related("mailing_list", "parent").filter(pk=group_id).first()


def group_admins(*, group: Group) -> list[GroupAdmin]:
    return list(group.admins.select_related("user").order_by("user__username"))


def group_list_ids() -> set[int]:
    """Lists that sit in some group."""
    return set(Group.objects.exclude(mailing_list=None).values_list("mailing_list_id", flat=True))


# --- The tree as pages show it (group tree, dashboard)


@dataclass
class TreeNode:
    group: GroupRow | None  # None: the "lists in no group" node
    depth: int
    mailing_list: Any = None
    member_total: int = 0  # this group's own list
    member_active: int = 0
    subtree_total: int = 0  # every list under it, its own included
    last_broadcast: Any = None
    admins: list[str] = field(default_factory=list)
    bar_percent: int = 0  # the subtree's members as a share of the largest top-level group (chart)


def tree_for(
    *, list_ids: Iterable[int] | None = None, group_ids: Iterable[int] | None = None, with_counts: bool = True
) -> tuple[list[TreeNode], list[TreeNode]]:
    """(the groups in tree order with counts, the visible lists not in a shown group).

    `group_ids` limits the tree to those groups (a group admin's subtrees); `list_ids` limits which
    lists are shown (None: all). Five queries whatever the size: groups, lists, member counts, last
    broadcasts, group admins."""
    rows = group_rows()
    visible_groups = set(group_ids) if group_ids is not None else None
    visible_lists = set(list_ids) if list_ids is not None else None
    lists = {mailing_list.pk: mailing_list for mailing_list in lists_all()}
    if visible_lists is not None:
        lists = {pk: mailing_list for pk, mailing_list in lists.items() if pk in visible_lists}
    counts = list_member_counts(list_ids=lists.keys()) if with_counts else {}
    last = lists_last_broadcast(list_ids=lists.keys()) if with_counts else {}
    admins: dict[int, list[str]] = defaultdict(list)
    for group_id, username in GroupAdmin.objects.order_by("user__username").values_list("group_id", "user__username"):
        admins[group_id].append(username)

    children = _children(rows)
    nodes: list[TreeNode] = []

    def walk(row: GroupRow, depth: int) -> int:
        node = TreeNode(group=row, depth=depth, admins=admins.get(row.id, []))
        shown = visible_groups is None or row.id in visible_groups
        if shown:
            nodes.append(node)
        if row.mailing_list_id in lists:
            node.mailing_list = lists[row.mailing_list_id]
            node.member_total = counts.get(row.mailing_list_id, {}).get("total", 0)
            node.member_active = counts.get(row.mailing_list_id, {}).get("active", 0)
            node.last_broadcast = last.get(row.mailing_list_id)
        total = node.member_total
        for child in children.get(row.id, []):
            total += walk(child, depth + 1 if shown else depth)
        node.subtree_total = total
        return total

    for root in children.get(None, []):
        walk(root, 0)
    top = max((node.subtree_total for node in nodes if node.depth == 0), default=0)
    for node in nodes:
        node.bar_percent = round(100 * node.subtree_total / top) if top else 0

    # Visible lists not shown in the tree: in no group, or in a group this person does not see
    # (a list admin's list inside somebody else's subtree).
    grouped = {node.mailing_list.pk for node in nodes if node.mailing_list is not None}
    loose = [
        TreeNode(
            group=None,
            depth=0,
            mailing_list=mailing_list,
            member_total=counts.get(pk, {}).get("total", 0),
            member_active=counts.get(pk, {}).get("active", 0),
            subtree_total=counts.get(pk, {}).get("total", 0),
            last_broadcast=last.get(pk),
        )
        for pk, mailing_list in lists.items()
        if pk not in grouped
    ]
    return nodes, loose


# --- Transfers and rollovers


def transfer_get(*, transfer_id: int) -> MemberTransfer | None:
    return MemberTransfer.objects.select_related("source_list", "target_list", "actor").filter(pk=transfer_id).first()


def transfer_last_applied(*, actor: Any) -> MemberTransfer | None:
    """The actor's latest applied (not undone) move or copy: the one they may undo."""
    if not getattr(actor, "is_authenticated", False):
        return None
    return (
        MemberTransfer.objects.filter(actor=actor)
        .exclude(state=MemberTransfer.State.PREVIEWED)
        .order_by("-applied_at", "-id")
        .first()
    )


def transfers_recent(*, actor: Any = None, limit: int = 10) -> list[MemberTransfer]:
    transfers = MemberTransfer.objects.exclude(state=MemberTransfer.State.PREVIEWED)
    if actor is not None:
        transfers = transfers.filter(actor=actor)
    return list(transfers.select_related("actor").order_by("-applied_at", "-id")[:limit])


def rollover_get(*, rollover_id: int) -> Rollover | None:
    return Rollover.objects.select_related("root_group").filter(pk=rollover_id).first()


def rollovers_recent(*, limit: int = 10) -> list[Rollover]:
    return list(Rollover.objects.order_by("-created_at", "-id")[:limit])
