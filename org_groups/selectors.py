"""Reads of groups."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from org_groups.models import GroupAdmin


def list_ids_administered_by(user: AbstractBaseUser) -> list[int]:
    """The lists of the groups this user administers: org_groups' source of roles for accounts.policy
    (settings.CONSOLE_LIST_ADMIN_SOURCES)."""
    return list(GroupAdmin.lists.through.objects.filter(groupadmin__user=user).values_list("mailinglist_id", flat=True))
