"""The group tree: owners build it; a group admin manages exactly the lists of their subtree."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts import policy
from audit.models import AuditEvent
from mailing.selectors.lists import lists_managed_by
from org_groups.errors import OrgGroupsUserError
from org_groups.models import Group, GroupAdmin
from org_groups.selectors import group_admin_list_ids, tree_for
from org_groups.services.tree import (
    group_admin_appoint,
    group_create,
    group_delete,
    group_reorder,
    group_update,
)
from tests.conftest import tenant_host
from tests.factories import member_make
from tests.factories.console import group_admin_make, managed_list_make, user_make
from tests.org_groups.support import school_make

pytestmark = pytest.mark.usefixtures("tenant_db")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def test_a_group_admin_manages_every_list_of_their_subtree_and_nothing_else():
    school = school_make(grades=3, classes=2, grade_lists=True)
    admin = group_admin_make(group=school.grades[1]).user  # 2年
    expected = {school.grade_lists[1].pk, *(each.pk for each in school.classes[1])}
    assert group_admin_list_ids(admin) == expected
    assert set(lists_managed_by(admin).values_list("pk", flat=True)) == expected
    assert not policy.list_can_manage(admin, school.classes[0][0].pk)
    # Moving 1年1組 under 2年 puts its list into the admin's subtree; moving it back takes it out.
    class_group = Group.objects.get(mailing_list=school.classes[0][0])
    group_update(
        group=class_group, name=class_group.name, parent=school.grades[1], mailing_list_id=class_group.mailing_list_id
    )
    assert policy.list_can_manage(admin, school.classes[0][0].pk)
    group_update(
        group=class_group, name=class_group.name, parent=school.grades[0], mailing_list_id=class_group.mailing_list_id
    )
    assert not policy.list_can_manage(admin, school.classes[0][0].pk)


def test_an_admin_of_the_school_manages_all_of_it():
    school = school_make(grades=2, classes=2)
    admin = group_admin_make(group=school.root).user
    assert group_admin_list_ids(admin) == {each.pk for each in school.all_lists()}


def test_owners_build_rename_and_reorder_groups_with_audit():
    owner = user_make(is_owner=True)
    company = group_create(name="株式会社サンプル", actor=owner)
    sales = group_create(name="営業本部", parent=company, actor=owner)
    dev = group_create(name="開発本部", parent=company, actor=owner)
    second = managed_list_make(name="第二営業部")
    department = group_create(name="第二営業部", parent=sales, mailing_list_id=second.pk, actor=owner)
    assert [g.name for g in company.children.all()] == ["営業本部", "開発本部"]
    group_reorder(group=dev, direction="up", actor=owner)
    assert [g.name for g in company.children.all()] == ["開発本部", "営業本部"]
    group_update(group=sales, name="営業本部 (東日本)", parent=company, mailing_list_id=None, actor=owner)
    nodes, _loose = tree_for()
    names = [
        (node.depth, node.group.name)
        for node in nodes
        if node.group.id in {company.pk, sales.pk, dev.pk, department.pk}
    ]
    assert names == [(0, "株式会社サンプル"), (1, "開発本部"), (1, "営業本部 (東日本)"), (2, "第二営業部")]
    actions = set(AuditEvent.objects.filter(actor=owner).values_list("action", flat=True))
    assert {"group.create", "group.reorder", "group.update"} <= actions


def test_the_tree_refuses_cycles_shared_lists_and_deleting_a_group_with_groups_under_it():
    parent = group_create(name="親")
    child = group_create(name="子", parent=parent)
    with pytest.raises(OrgGroupsUserError, match="under itself"):
        group_update(group=parent, name="親", parent=child, mailing_list_id=None)
    shared = managed_list_make()
    group_create(name="A", mailing_list_id=shared.pk)
    with pytest.raises(OrgGroupsUserError, match="already belongs"):
        group_create(name="B", mailing_list_id=shared.pk)
    with pytest.raises(OrgGroupsUserError, match="groups under it"):
        group_delete(group=parent)
    group_delete(group=child)
    group_delete(group=parent)
    assert shared.pk  # deleting groups never deletes their lists
    assert not Group.objects.filter(pk__in=[parent.pk, child.pk]).exists()


def test_appointing_a_group_admin_by_user_name_and_refusing_twice():
    group = group_create(name="3年")
    user = user_make()
    role, invited = group_admin_appoint(group=group, username=user.username)
    assert (role.user, invited) == (user, False)
    with pytest.raises(OrgGroupsUserError, match="already an admin"):
        group_admin_appoint(group=group, email=user.email)
    with pytest.raises(OrgGroupsUserError, match="No such user"):
        group_admin_appoint(group=group, username="nobody-here")


def test_the_tree_page_and_the_dashboard(tenant):
    school = school_make(grades=2, classes=2, per_class=3)
    owner = user_make(is_owner=True)
    client = Client(HTTP_HOST=tenant_host(tenant), HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner)
    page = client.get(reverse("console:group_tree")).content.decode()
    assert school.root.name in page
    assert "2年2組" in page
    response = client.post(reverse("console:group_create"), {"name": "3年", "parent": school.root.pk})
    assert response.status_code == 302
    assert Group.objects.filter(parent=school.root, name="3年").exists()
    teacher = user_make()
    client.post(
        reverse("console:group_admin_list", kwargs={"group_id": school.grades[0].pk}), {"username": teacher.username}
    )
    assert GroupAdmin.objects.filter(user=teacher, group=school.grades[0]).exists()
    member_make(school.classes[0][0])
    home = client.get(reverse("console:home")).content.decode()
    assert 'id="dashboard-tree"' in home
    assert teacher.username in home  # the group admins shown on their group
