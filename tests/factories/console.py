"""Factories for console tests: users in roles, lists with their first sender and admin."""

from __future__ import annotations

import uuid

from accounts.services import user_create
from mailing.models import ListAdmin, MailingList
from org_groups.models import GroupAdmin
from tests.conftest import TEST_PASSWORD
from tests.factories import mailing_list_make, sender_make, unique

# Addresses differ between test runs too: allauth's rate limits (password reset, confirmation mail)
# are counted per address in Redis, which outlives a run.
_RUN = uuid.uuid4().hex[:6]


def user_make(*, is_owner: bool = False, username: str | None = None):
    username = username or unique("user")
    email = f"{username}.{_RUN}@example.net"
    return user_create(username=username, email=email, password=TEST_PASSWORD, is_owner=is_owner)


def managed_list_make(*, admin=None, **fields) -> MailingList:
    """A list with one sender and one admin, as the console creates them."""
    mailing_list = mailing_list_make(**fields)
    sender_make(mailing_list)
    ListAdmin.objects.create(mailing_list=mailing_list, user=admin or user_make())
    return mailing_list


def group_admin_make(*lists: MailingList, user=None) -> GroupAdmin:
    group_admin = GroupAdmin.objects.create(user=user or user_make(), name=unique("group"))
    group_admin.lists.set(lists)
    return group_admin
