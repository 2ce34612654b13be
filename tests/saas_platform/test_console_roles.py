"""The role/organization matrix: every console URL, for every role, and with another organization's
ids and host. URLs are collected from saas_platform.urls_console, so new pages are covered as they come.

Rules (accounts.policy):
- anonymous: every URL sends to the login page, GET and POST alike;
- owner: everything in their organization;
- group admin / list admin: the pages of their lists and the role-free pages (dashboard, language);
  owner-only pages and other lists' pages are 403; a group admin's lists are those of their subtree;
- the move/copy pages: owners and group admins only (a list admin of the same list is refused), and a
  move/copy operation's pages only for its author (and owners);
- ids that exist only in another organization are 404 for everyone, the owner included;
- a session of one organization means nothing on another organization's host (login page).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django_tenants.utils import schema_context

from mailing.models import (
    Broadcast,
    ListAdmin,
    MailingList,
    Member,
    MemberImport,
    Person,
    PersonAddress,
    Sender,
    WebBroadcast,
)
from org_groups.models import Group, GroupAdmin, MemberTransfer, Rollover
from saas_platform import urls_console
from tests.conftest import tenant_host
from tests.factories import member_make, sender_make, unique
from tests.factories.console import group_admin_make, group_make, managed_list_make, user_make
from tests.factories.web_broadcasts import ATTENDANCE, web_broadcast_draft_make

OWNER_ONLY = {
    "audit",
    "dev_mail",
    "list_create",
    "list_delete",
    "group_tree",
    "group_create",
    "group_edit",
    "group_reorder",
    "group_delete",
    "group_admin_list",
    "group_admin_delete",
    "rollover_start",
    "rollover_detail",
    "rollover_apply",
    "rollover_undo",
    "directory",
    "person_create",
    "person_detail",
    "person_delete",
    "person_address_delete",
}
# Pages any logged-in person of the organization may open (they show only what the role allows).
ROLE_FREE = {"home", "language_set", "broadcast_history", "broadcast_compose", "broadcast_scheduled_list"}
# URL parameters that scope a page to a list: a broadcast belongs to its lists (accounts.policy).
SCOPING = {"list_id", "broadcast_id"}
# Moving and copying members: owners and group admins (for the transfer pages: its author).
GROUP_ADMIN_PAGES = {"transfer_home", "transfer_select", "transfer_detail", "transfer_apply", "transfer_undo"}


def console_url_names() -> list[str]:
    names = []
    for pattern in urls_console.urlpatterns:
        assert isinstance(pattern, URLPattern), "the console URLconf is flat; walk includes here if that changes"
        assert not isinstance(pattern, URLResolver)
        names.append(pattern.name)
    return names


def test_every_console_url_is_classified():
    names = console_url_names()
    assert len(names) == len(set(names))
    for name in names:
        pattern = next(p for p in urls_console.urlpatterns if p.name == name)
        scoped = bool(SCOPING & set(pattern.pattern.converters))
        classified = OWNER_ONLY | ROLE_FREE | GROUP_ADMIN_PAGES
        assert scoped or name in classified, f"{name}: a console URL without a list must be classified"


def _kwargs_for(name: str, objects: dict[str, int]) -> dict[str, int]:
    pattern = next(p for p in urls_console.urlpatterns if p.name == name)
    return {key: objects[key] for key in pattern.pattern.converters}


@pytest.fixture
def world(tenant_db, other_tenant, settings):
    settings.DEBUG = True  # the dev mail page exists only with DEBUG on: check its policy too
    list_a = managed_list_make()
    list_a2 = managed_list_make()  # the same subtree as list A
    member = member_make(list_a)
    sender_make(list_a)
    imported = MemberImport.objects.create(mailing_list=list_a, raw=b"x@example.com\n", filename="x.csv")
    group_admin = group_admin_make(list_a, list_a2)
    transfer = MemberTransfer.objects.create(
        kind="move", actor=group_admin.user, source_list=list_a, target_list=list_a2, member_ids=[member.pk]
    )
    broadcast = web_broadcast_draft_make([list_a], read_confirmation=True, questions=[ATTENDANCE])
    person = Person.objects.create(name="山田 花子")
    address = PersonAddress.objects.create(person=person, address="h@example.jp", address_normalized="h@example.jp")
    objects_a = {
        "list_id": list_a.pk,
        "member_id": member.pk,
        "sender_id": list_a.senders.first().pk,
        "admin_id": list_a.admins.first().pk,
        "import_id": imported.pk,
        "group_id": group_admin.group_id,
        "role_id": group_admin.pk,
        "transfer_id": transfer.pk,
        "rollover_id": Rollover.objects.create(root_group=group_admin.group, mode="rule", leaving="archive").pk,
        "person_id": person.pk,
        "address_id": address.pk,
        "broadcast_id": broadcast.pk,
    }
    list_b = managed_list_make()
    group_make(mailing_list=list_b)  # in a group of its own, outside the group admin's subtree
    broadcast_b = web_broadcast_draft_make([list_b], read_confirmation=True, questions=[ATTENDANCE])
    users = {
        "owner": user_make(is_owner=True),
        "group_admin_a": group_admin.user,
        "list_admin_a": list_a.admins.first().user,
        "list_admin_b": list_b.admins.first().user,
    }
    # Objects of another organization, with ids that do not exist in this one.
    big = 10**9 + MailingList.objects.count()
    with schema_context(other_tenant.schema_name):
        other_list = MailingList.objects.create(pk=big, local_part=unique("foreign"), name="Foreign")
        other_user = get_user_model().objects.get(username="owner")
        other_group = Group.objects.create(pk=big, name="Foreign group", mailing_list=other_list)
        other_person = Person.objects.create(pk=big, name="Foreign person")
        other_ids = {
            "list_id": other_list.pk,
            "member_id": Member.objects.create(
                pk=big, mailing_list=other_list, address="f@example.com", address_normalized="f@example.com"
            ).pk,
            "sender_id": Sender.objects.create(
                pk=big, mailing_list=other_list, address="s@example.com", address_normalized="s@example.com"
            ).pk,
            "admin_id": ListAdmin.objects.create(pk=big, mailing_list=other_list, user=other_user).pk,
            "import_id": MemberImport.objects.create(pk=big, mailing_list=other_list, raw=b"").pk,
            "group_id": other_group.pk,
            "role_id": GroupAdmin.objects.create(pk=big, group=other_group, user=other_user).pk,
            "transfer_id": MemberTransfer.objects.create(
                pk=big, kind="copy", actor=other_user, source_list=other_list, target_list=other_list
            ).pk,
            "rollover_id": Rollover.objects.create(pk=big, root_group=other_group, mode="rule", leaving="remove").pk,
            "person_id": other_person.pk,
            "address_id": PersonAddress.objects.create(
                pk=big, person=other_person, address="p@example.com", address_normalized="p@example.com"
            ).pk,
            "broadcast_id": WebBroadcast.objects.create(
                broadcast=Broadcast.objects.create(pk=big, mailing_list=other_list, channel="web", subject="x"),
                read_confirmation=True,
            ).pk,
        }
    connection.set_tenant(tenant_db)
    return {
        "objects_a": objects_a,
        "users": users,
        "other_ids": other_ids,
        "tenant": tenant_db,
        "list_b": list_b,
        "broadcast_b": broadcast_b,
        "list_a2": list_a2,
    }


def _client(tenant, user=None) -> Client:
    client = Client(HTTP_HOST=tenant_host(tenant))
    if user is not None:
        client.force_login(user)
    return client


def _expected_allowed(role: str, name: str) -> bool:
    if role == "owner":
        return True
    if name in OWNER_ONLY:
        return False
    if name in ROLE_FREE:
        return True
    if name in GROUP_ADMIN_PAGES:
        return role == "group_admin_a"  # list A's group admin, the author of the transfer
    return role in {"group_admin_a", "list_admin_a"}  # the URLs point at list A


@pytest.mark.parametrize("name", console_url_names())
def test_anonymous_is_sent_to_login_everywhere(world, name):
    url = reverse(f"console:{name}", kwargs=_kwargs_for(name, world["objects_a"]))
    client = _client(world["tenant"])
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302, (name, response.status_code)
        assert response["Location"].startswith(reverse(settings.LOGIN_URL))


@pytest.mark.parametrize("name", console_url_names())
@pytest.mark.parametrize("role", ["owner", "group_admin_a", "list_admin_a", "list_admin_b"])
def test_role_matrix(world, role, name):
    url = reverse(f"console:{name}", kwargs=_kwargs_for(name, world["objects_a"]))
    client = _client(world["tenant"], world["users"][role])
    counts_before = _counts()
    response = client.get(url)
    if _expected_allowed(role, name):
        assert response.status_code in {200, 302, 405}, (role, name, response.status_code)
    else:
        assert response.status_code in {403, 405}, (role, name, response.status_code)
        post = client.post(url, {"action": "suspend", "bulk_action": "delete", "member": [1, 2, 3]})
        assert post.status_code == 403, (role, name, post.status_code)
        assert _counts() == counts_before


def _counts() -> tuple:
    return (
        Member.objects.count(),
        Sender.objects.count(),
        ListAdmin.objects.count(),
        Group.objects.count(),
        GroupAdmin.objects.count(),
        MemberTransfer.objects.exclude(state="previewed").count(),
        Person.objects.count(),
        PersonAddress.objects.count(),
    )


def _converters(name: str) -> dict:
    return next(p for p in urls_console.urlpatterns if p.name == name).pattern.converters


ID_SCOPED = [n for n in console_url_names() if _converters(n)]
LIST_SCOPED = [n for n in console_url_names() if SCOPING & set(_converters(n))]


@pytest.mark.parametrize("name", ID_SCOPED)
def test_another_organizations_ids_are_404_even_for_the_owner(world, name):
    url = reverse(f"console:{name}", kwargs=_kwargs_for(name, world["other_ids"]))
    client = _client(world["tenant"], world["users"]["owner"])
    assert client.get(url).status_code in {404, 405}
    assert client.post(url, {"action": "suspend"}).status_code == 404


@pytest.mark.parametrize("name", console_url_names())
def test_a_session_is_worthless_on_another_organizations_host(world, other_tenant, name):
    client = _client(world["tenant"], world["users"]["owner"])
    url = reverse(f"console:{name}", kwargs=_kwargs_for(name, world["objects_a"]))
    response = client.get(url, HTTP_HOST=tenant_host(other_tenant))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse(settings.LOGIN_URL))


@pytest.mark.parametrize("name", LIST_SCOPED)
def test_a_group_admin_cannot_reach_a_list_outside_their_subtree(world, name):
    """List B sits in a group outside the group admin's subtree: every URL of it (and of its broadcast)
    is 403, GET and POST."""
    list_b = world["list_b"]
    objects_b = dict(world["objects_a"], list_id=list_b.pk, broadcast_id=world["broadcast_b"].pk)
    url = reverse(f"console:{name}", kwargs=_kwargs_for(name, objects_b))
    client = _client(world["tenant"], world["users"]["group_admin_a"])
    before = _counts()
    assert client.get(url).status_code in {403, 405}, name
    assert client.post(url, {"action": "suspend", "bulk_action": "delete", "member": [1, 2, 3]}).status_code == 403
    assert _counts() == before


def test_a_group_admin_cannot_move_members_into_a_list_outside_their_subtree(world):
    list_a, list_b = world["objects_a"]["list_id"], world["list_b"]
    client = _client(world["tenant"], world["users"]["group_admin_a"])
    previews = MemberTransfer.objects.count()
    response = client.post(
        reverse("console:transfer_select", kwargs={"list_id": list_a}),
        {"mode": "all", "kind": "move", "target": list_b.pk},
    )
    assert response.status_code == 403
    assert MemberTransfer.objects.count() == previews
    # The target choices offered are the subtree's lists only.
    page = client.get(reverse("console:transfer_select", kwargs={"list_id": list_a})).content.decode()
    assert f'value="{world["list_a2"].pk}"' in page
    assert f'value="{list_b.pk}"' not in page


def test_a_group_admins_dashboard_shows_only_their_subtree(world):
    client = _client(world["tenant"], world["users"]["group_admin_a"])
    page = client.get(reverse("console:home")).content.decode()
    assert world["list_a2"].name in page
    assert world["list_b"].name not in page


def test_a_move_of_another_admin_is_not_theirs(world):
    """A group admin of the same subtree may not open, apply or undo another person's operation."""
    other_admin = group_admin_make(group=Group.objects.get(pk=world["objects_a"]["group_id"]))
    client = _client(world["tenant"], other_admin.user)
    transfer_id = world["objects_a"]["transfer_id"]
    for name in ("transfer_detail", "transfer_apply", "transfer_undo"):
        url = reverse(f"console:{name}", kwargs={"transfer_id": transfer_id})
        assert client.post(url).status_code == 403, name
    assert MemberTransfer.objects.get(pk=transfer_id).state == "previewed"
