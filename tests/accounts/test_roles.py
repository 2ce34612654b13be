"""Roles come from one selector (accounts.selectors.console_roles); the policy decides with list ids only.

Which lists a person administers comes from each app that grants such a role, through the small
function named in settings.CONSOLE_LIST_ADMIN_SOURCES: mailing (list admins), org_groups (group admins).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from accounts import policy
from accounts.selectors import console_roles
from mailing.selectors.lists import lists_managed_by
from tests.factories import list_admin_make
from tests.factories.console import group_admin_make, managed_list_make, user_make

# A third app's grants, for the test of the interface: user pk -> list ids.
EXTRA_GRANTS: dict[int, list[int]] = {}


def extra_list_ids_administered_by(user) -> list[int]:
    return EXTRA_GRANTS.get(user.pk, [])


def test_list_admin_and_group_admin_grants_come_together(tenant_db):
    own_list = managed_list_make(name="株式会社サンプル 営業本部 第二営業部")
    grade, class_a, class_b, other = managed_list_make(), managed_list_make(), managed_list_make(), managed_list_make()
    person = user_make()
    list_admin_make(own_list, person)
    group_admin_make(grade, class_a, class_b, user=person)

    roles = console_roles(person)
    assert not roles.is_owner
    assert roles.administered_list_ids == {own_list.pk, grade.pk, class_a.pk, class_b.pk}
    assert policy.list_scope(person) == policy.ListScope(every_list=False, list_ids=roles.administered_list_ids)
    assert policy.list_can_manage(person, class_b.pk)
    assert not policy.list_can_manage(person, other.pk)
    assert set(lists_managed_by(person)) == {own_list, grade, class_a, class_b}


def test_owner_manages_every_list_and_anonymous_none(tenant_db):
    first, second = managed_list_make(), managed_list_make()
    owner = user_make(is_owner=True)
    assert policy.list_scope(owner).every_list
    assert policy.list_can_manage(owner, second.pk)
    assert {first, second} <= set(lists_managed_by(owner))
    anonymous = AnonymousUser()
    assert console_roles(anonymous) == console_roles(anonymous).__class__()
    assert not policy.list_can_manage(anonymous, first.pk)
    assert list(lists_managed_by(anonymous)) == []


def test_each_app_grants_through_its_own_source(tenant_db, settings):
    """The policy asks the sources named in settings: a group admin's lists come from org_groups only."""
    mailing_list = managed_list_make()
    group_admin = group_admin_make(mailing_list).user
    assert policy.list_can_manage(group_admin, mailing_list.pk)
    settings.CONSOLE_LIST_ADMIN_SOURCES = ["mailing.selectors.lists.list_ids_administered_by"]
    assert not policy.list_can_manage(group_admin, mailing_list.pk)


def test_a_new_source_of_grants_reaches_the_policy_without_changing_accounts(tenant_db, settings):
    mailing_list = managed_list_make()
    person = user_make()
    settings.CONSOLE_LIST_ADMIN_SOURCES = [
        *settings.CONSOLE_LIST_ADMIN_SOURCES,
        "tests.accounts.test_roles.extra_list_ids_administered_by",
    ]
    assert not policy.list_can_manage(person, mailing_list.pk)
    EXTRA_GRANTS[person.pk] = [mailing_list.pk]
    try:
        assert policy.list_can_manage(person, mailing_list.pk)
        assert list(lists_managed_by(person)) == [mailing_list]
    finally:
        EXTRA_GRANTS.clear()
