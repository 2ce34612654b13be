"""Factories for console tests: users in roles, lists with their first sender and admin."""

from __future__ import annotations

from accounts.services import user_create
from mailing.models import ListAdmin, MailingList
from org_groups.models import Group, GroupAdmin
from tests.conftest import TEST_PASSWORD
from tests.factories import mailing_list_make, sender_make, unique


def user_make(*, is_owner: bool = False, username: str | None = None):
    username = username or unique("user")
    return user_create(username=username, email=f"{username}@example.net", password=TEST_PASSWORD, is_owner=is_owner)


def managed_list_make(*, admin=None, **fields) -> MailingList:
    """A list with one sender and one admin, as the console creates them."""
    mailing_list = mailing_list_make(**fields)
    sender_make(mailing_list)
    ListAdmin.objects.create(mailing_list=mailing_list, user=admin or user_make())
    return mailing_list


def group_make(
    name: str | None = None, *, parent: Group | None = None, mailing_list: MailingList | None = None
) -> Group:
    position = Group.objects.filter(parent=parent).count()
    return Group.objects.create(
        name=name or unique("グループ"), parent=parent, position=position, mailing_list=mailing_list
    )


def group_admin_make(*lists: MailingList, user=None, group: Group | None = None) -> GroupAdmin:
    """A group admin of `group`, or of a new group holding one child group per list given."""
    if group is None:
        group = group_make()
        for mailing_list in lists:
            group_make(mailing_list.name, parent=group, mailing_list=mailing_list)
    return GroupAdmin.objects.create(user=user or user_make(), group=group)
