"""Reads for console users: the roles a person holds, from one place (accounts.policy decides with them).

Owners are this app's own (`Profile.is_owner`). Which lists a person administers comes from the apps
that grant such roles, each through one small function named in settings.CONSOLE_LIST_ADMIN_SOURCES:
`(user) -> ids of the lists this user administers through this app's roles` (mailing: ListAdmin;
org_groups: GroupAdmin). So accounts imports no other app's models, and an app changes how its
grants are stored by changing its own function. Sets of lists administered together (a group admin's
subtree, within which members may be moved and copied) come the same way, from
settings.CONSOLE_LIST_SET_SOURCES.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils.module_loading import import_string

User = AbstractBaseUser | AnonymousUser
ListAdminSource = Callable[[AbstractBaseUser], Iterable[int]]
ListSetSource = Callable[[AbstractBaseUser], Iterable[Iterable[int]]]


@dataclass(frozen=True)
class ConsoleRoles:
    """What a person may be in the console of the current organization."""

    is_owner: bool = False
    # The lists they administer as list or group admin. Not read for owners: they manage every list.
    administered_list_ids: frozenset[int] = frozenset()
    # Sets of lists they administer together (a group admin's subtree, one set per group): members
    # may be moved and copied among the lists of one set.
    administered_list_sets: tuple[frozenset[int], ...] = ()


def list_admin_sources() -> list[ListAdminSource]:
    return [import_string(path) for path in settings.CONSOLE_LIST_ADMIN_SOURCES]


def list_set_sources() -> list[ListSetSource]:
    return [import_string(path) for path in settings.CONSOLE_LIST_SET_SOURCES]


def console_roles(user: User) -> ConsoleRoles:
    if not user.is_authenticated:
        return ConsoleRoles()
    profile = getattr(user, "profile", None)
    if profile is not None and profile.is_owner:
        return ConsoleRoles(is_owner=True)
    list_ids: set[int] = set()
    for source in list_admin_sources():
        list_ids.update(source(user))
    list_sets = tuple(frozenset(ids) for source in list_set_sources() for ids in source(user))
    return ConsoleRoles(administered_list_ids=frozenset(list_ids), administered_list_sets=list_sets)
