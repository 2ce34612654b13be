"""Who may do what in the console: the one place where roles are decided (issue 4).

Roles inside an organization (the organization itself is chosen by the Host header; another
organization's ids simply do not exist in this schema and answer 404):

- organization owner: every list, list creation, the audit log, dev mail;
- group admin: every list in the subtree of the groups they administer, and moving/copying members
  among the lists of one such subtree;
- list admin: their one list.

The roles a person holds come from one selector (accounts.selectors.console_roles); lists are known
here by id only. Every console view asks here; nothing else checks roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from accounts.selectors import User, console_roles


@dataclass(frozen=True)
class ListScope:
    """The lists a person may manage: every list of the organization, or these ids."""

    every_list: bool
    list_ids: frozenset[int] = frozenset()


def is_owner(user: User) -> bool:
    return console_roles(user).is_owner


def list_scope(user: User) -> ListScope:
    """The lists this user may manage (members, senders, admins, options)."""
    roles = console_roles(user)
    if roles.is_owner:
        return ListScope(every_list=True)
    return ListScope(every_list=False, list_ids=roles.administered_list_ids)


def list_can_manage(user: User, list_id: int) -> bool:
    scope = list_scope(user)
    return scope.every_list or list_id in scope.list_ids


def list_can_create(user: User) -> bool:
    return is_owner(user)


def list_can_delete(user: User, list_id: int) -> bool:
    return is_owner(user)


def audit_can_view(user: User) -> bool:
    return is_owner(user)


def dev_mail_can_view(user: User) -> bool:
    return is_owner(user)


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def broadcast_can_view(user: User, list_ids: frozenset[int]) -> bool:
    """A broadcast (its recipients, results, content) is the business of whoever manages every list
    it went to: a broadcast to two lists shows the recipients of both (F8)."""
    scope = list_scope(user)
    return scope.every_list or (bool(list_ids) and list_ids <= scope.list_ids)


# --- Groups (org_groups, F6): the tree, moving/copying members, the rollover, the directory


def groups_can_edit(user: User) -> bool:
    """Building the group tree and appointing group admins."""
    return is_owner(user)


def transfer_can_use(user: User) -> bool:
    """The move/copy page: owners and group admins."""
    roles = console_roles(user)
    return roles.is_owner or bool(roles.administered_list_sets)


def transfer_source_allowed(user: User, list_id: int) -> bool:
    """May this person move or copy members out of this list?"""
    roles = console_roles(user)
    return roles.is_owner or any(list_id in ids for ids in roles.administered_list_sets)


def transfer_targets(user: User, source_id: int) -> ListScope:
    """The lists a person may move or copy members of `source_id` into: for a group admin, the other
    lists of the subtree(s) that hold the source (never outside them); for an owner, every list."""
    roles = console_roles(user)
    if roles.is_owner:
        return ListScope(every_list=True)
    targets: set[int] = set()
    for ids in roles.administered_list_sets:
        if source_id in ids:
            targets |= ids
    targets.discard(source_id)
    return ListScope(every_list=False, list_ids=frozenset(targets))


def transfer_can_view(user: User, *, actor_id: int | None, source_id: int | None, target_id: int | None) -> bool:
    """A move or copy's page (preview, result, undo): its author while both lists are still in one of
    their subtrees, and owners."""
    roles = console_roles(user)
    if roles.is_owner:
        return True
    if not user.is_authenticated or actor_id != user.pk:
        return False
    return any(source_id in ids and target_id in ids for ids in roles.administered_list_sets)


def directory_can_view(user: User) -> bool:
    """The organization-wide directory of people, their addresses and lists."""
    return is_owner(user)


def rollover_can_run(user: User) -> bool:
    return is_owner(user)
