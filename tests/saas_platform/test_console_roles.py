"""The role/organization matrix: every console URL, for every role, and with another organization's
ids and host. URLs are collected from saas_platform.urls_console, so new pages are covered as they come.

Rules (accounts.policy):
- anonymous: every URL sends to the login page, GET and POST alike;
- owner: everything in their organization;
- group admin / list admin: the pages of their lists and the role-free pages (dashboard, language);
  owner-only pages and other lists' pages are 403;
- ids that exist only in another organization are 404 for everyone, the owner included;
- a session of one organization means nothing on another organization's host (login page).
"""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django_tenants.utils import schema_context

from mailing.models import Broadcast, ListAdmin, MailingList, Member, MemberImport, Sender, WebBroadcast
from saas_platform import urls_console
from tests.conftest import tenant_host
from tests.factories import member_make, sender_make, unique
from tests.factories.console import group_admin_make, managed_list_make, user_make
from tests.factories.web_broadcasts import ATTENDANCE, web_broadcast_draft_make

OWNER_ONLY = {"audit", "dev_mail", "list_create", "list_delete"}
# Pages any logged-in person of the organization may open (they show only what the role allows).
ROLE_FREE = {"home", "language_set", "broadcast_history", "broadcast_compose", "broadcast_scheduled_list"}
# URL parameters that scope a page to a list: a broadcast belongs to its lists (accounts.policy).
SCOPING = {"list_id", "broadcast_id"}


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
        assert scoped or name in OWNER_ONLY | ROLE_FREE, f"{name}: a console URL without a list must be classified"


def _kwargs_for(name: str, objects: dict[str, int]) -> dict[str, int]:
    pattern = next(p for p in urls_console.urlpatterns if p.name == name)
    return {key: objects[key] for key in pattern.pattern.converters}


@pytest.fixture
def world(tenant_db, other_tenant, settings):
    settings.DEBUG = True  # the dev mail page exists only with DEBUG on: check its policy too
    list_a = managed_list_make()
    member = member_make(list_a)
    sender_make(list_a)
    imported = MemberImport.objects.create(mailing_list=list_a, raw=b"x@example.com\n", filename="x.csv")
    broadcast = web_broadcast_draft_make([list_a], read_confirmation=True, questions=[ATTENDANCE])
    objects_a = {
        "list_id": list_a.pk,
        "member_id": member.pk,
        "sender_id": list_a.senders.first().pk,
        "admin_id": list_a.admins.first().pk,
        "import_id": imported.pk,
        "broadcast_id": broadcast.pk,
    }
    list_b = managed_list_make()
    users = {
        "owner": user_make(is_owner=True),
        "group_admin_a": group_admin_make(list_a).user,
        "list_admin_a": list_a.admins.first().user,
        "list_admin_b": list_b.admins.first().user,
    }
    # Objects of another organization, with ids that do not exist in this one.
    big = 10**9 + MailingList.objects.count()
    with schema_context(other_tenant.schema_name):
        other_list = MailingList.objects.create(pk=big, local_part=unique("foreign"), name="Foreign")
        other_ids = {
            "list_id": other_list.pk,
            "member_id": Member.objects.create(
                pk=big, mailing_list=other_list, address="f@example.com", address_normalized="f@example.com"
            ).pk,
            "sender_id": Sender.objects.create(
                pk=big, mailing_list=other_list, address="s@example.com", address_normalized="s@example.com"
            ).pk,
            "admin_id": ListAdmin.objects.create(
                pk=big, mailing_list=other_list, user=get_user_model().objects.get(username="owner")
            ).pk,
            "import_id": MemberImport.objects.create(pk=big, mailing_list=other_list, raw=b"").pk,
            "broadcast_id": WebBroadcast.objects.create(
                broadcast=Broadcast.objects.create(pk=big, mailing_list=other_list, channel="web", subject="x"),
                read_confirmation=True,
            ).pk,
        }
    connection.set_tenant(tenant_db)
    return {"objects_a": objects_a, "users": users, "other_ids": other_ids, "tenant": tenant_db}


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
    counts_before = (Member.objects.count(), Sender.objects.count(), ListAdmin.objects.count())
    response = client.get(url)
    if _expected_allowed(role, name):
        assert response.status_code in {200, 302, 405}, (role, name, response.status_code)
    else:
        assert response.status_code in {403, 405}, (role, name, response.status_code)
        post = client.post(url, {"action": "suspend", "bulk_action": "delete", "member": [1, 2, 3]})
        assert post.status_code == 403, (role, name, post.status_code)
        assert (Member.objects.count(), Sender.objects.count(), ListAdmin.objects.count()) == counts_before


LIST_SCOPED = [n for n in console_url_names() if n not in ROLE_FREE | {"audit", "dev_mail", "list_create"}]


@pytest.mark.parametrize("name", LIST_SCOPED)
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


# --- Power over other people's accounts ------------------------------------------------------------
# RELIABILITY.md: a role never grants power over another person's credentials. The owner who creates a
# list becomes its admin; a list admin and a group admin of that list try every console action that
# names an admin (every URL with an admin_id: found here, so new ones are covered) against the
# owner's entry and a fellow admin's, by GET and by POST with an e-mail change in it. Each is refused,
# and the target's user name, address, password and verified addresses stay as they were.

ADMIN_URL_NAMES = [
    name
    for name in console_url_names()
    if "admin_id" in next(p for p in urls_console.urlpatterns if p.name == name).pattern.converters
]
TAKEOVER_FORM = {"email": "attacker@evil.example", "username": "attacker", "password1": "x", "password2": "x"}


@pytest.fixture
def admins_of_one_list(tenant_db):
    owner = user_make(is_owner=True)
    mailing_list = managed_list_make(admin=owner)  # as list_create makes it: its creator is its admin
    list_admin, peer = user_make(), user_make()
    group_admin, peer_group_admin = user_make(), user_make()
    for user in (list_admin, peer, group_admin, peer_group_admin):
        ListAdmin.objects.create(mailing_list=mailing_list, user=user)
    group_admin_make(mailing_list, user=group_admin)
    group_admin_make(mailing_list, user=peer_group_admin)
    return {
        "list": mailing_list,
        "owner": owner,
        "list_admin": list_admin,
        "peer": peer,
        "group_admin": group_admin,
        "peer_group_admin": peer_group_admin,
    }


def _credentials(user) -> tuple:
    user.refresh_from_db()
    addresses = sorted(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary"))
    return (user.get_username(), user.email, user.password, user.is_active, addresses)


@pytest.mark.parametrize("name", ADMIN_URL_NAMES)
@pytest.mark.parametrize(
    ("actor", "target"),
    [
        ("list_admin", "owner"),
        ("list_admin", "peer"),
        ("list_admin", "group_admin"),
        ("group_admin", "owner"),
        ("group_admin", "peer_group_admin"),
    ],
)
def test_a_list_or_group_admin_can_do_nothing_to_the_owners_or_a_fellow_admins_account(
    tenant, admins_of_one_list, name, actor, target
):
    people = admins_of_one_list
    entry = ListAdmin.objects.get(mailing_list=people["list"], user=people[target])
    url = reverse(f"console:{name}", kwargs={"list_id": people["list"].pk, "admin_id": entry.pk})
    before = _credentials(people[target])
    client = _client(tenant, people[actor])
    assert client.get(url).status_code in {403, 405}
    assert client.post(url, TAKEOVER_FORM).status_code == 403
    assert _credentials(people[target]) == before
    assert ListAdmin.objects.filter(pk=entry.pk).exists()


def test_nobody_changes_another_persons_address_not_even_the_owner(tenant, admins_of_one_list):
    people = admins_of_one_list
    client = _client(tenant, people["owner"])
    before = _credentials(people["list_admin"])
    for name in ADMIN_URL_NAMES:
        entry = ListAdmin.objects.get(mailing_list=people["list"], user=people["list_admin"])
        client.post(reverse(f"console:{name}", kwargs={"list_id": people["list"].pk, "admin_id": entry.pk}),
                    TAKEOVER_FORM)  # fmt: skip
    assert _credentials(people["list_admin"]) == before


def test_roles_are_removed_only_downwards_or_by_oneself(tenant, admins_of_one_list):
    people = admins_of_one_list
    wider = group_admin_make(people["list"], managed_list_make(), user=user_make()).user  # two lists
    ListAdmin.objects.create(mailing_list=people["list"], user=wider)

    def remove(actor, target) -> int:
        entry = ListAdmin.objects.get(mailing_list=people["list"], user=people.get(target, target))
        url = reverse("console:admin_delete", kwargs={"list_id": people["list"].pk, "admin_id": entry.pk})
        return _client(tenant, people.get(actor, actor)).post(url).status_code

    assert remove(wider, "list_admin") == 302  # a group admin over more lists manages a list's admins
    assert remove("peer", "peer") == 302  # anyone may step down
    assert remove("owner", "group_admin") == 302  # the owner manages every role
    assert not ListAdmin.objects.filter(user__in=[people["list_admin"], people["peer"], people["group_admin"]]).exists()


def test_a_new_admin_is_never_paired_with_somebody_elses_address(tenant, admins_of_one_list):
    people = admins_of_one_list
    other_list = managed_list_make(admin=people["list_admin"])
    url = reverse("console:admin_list", kwargs={"list_id": other_list.pk})
    client = _client(tenant, people["list_admin"])
    response = client.post(url, {"username": people["owner"].get_username(), "email": "attacker@evil.example"})
    assert response.status_code == 200  # the form again, with an error
    assert not ListAdmin.objects.filter(mailing_list=other_list, user=people["owner"]).exists()


# --- Digits that are not ASCII ---------------------------------------------------------------------
# str.isdigit() is true for "²" and "①", which int() refuses: a query or form value like that was a 500.
# Every console page, by GET with such values in the usual parameters and by POST with them in the
# form, answers without a server error; the parameters that carry ids answer 400 (a bad request).
NOT_ASCII_DIGITS = ["²", "①", "１２", "١"]
PARAMETERS = ["page", "list", "member", "remove_attachment", "status", "sort", "q", "state", "show", "from", "to"]


@pytest.mark.parametrize("name", console_url_names())
def test_non_ascii_digits_in_parameters_never_give_a_server_error(world, name):
    url = reverse(f"console:{name}", kwargs=_kwargs_for(name, world["objects_a"]))
    client = _client(world["tenant"], world["users"]["owner"])
    client.raise_request_exception = False
    for value in NOT_ASCII_DIGITS:
        query = "&".join(f"{parameter}={value}" for parameter in PARAMETERS)
        assert client.get(f"{url}?{query}").status_code < 500, (name, value)
        assert client.post(url, dict.fromkeys(PARAMETERS, value)).status_code < 500, (name, value)


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_ids_written_with_other_digits_are_a_bad_request(world, value):
    client = _client(world["tenant"], world["users"]["owner"])
    client.raise_request_exception = False
    objects = world["objects_a"]
    assert client.get(reverse("console:audit"), {"list": value}).status_code == 400
    bulk = reverse("console:member_bulk", kwargs={"list_id": objects["list_id"]})
    assert client.post(bulk, {"member": [value], "bulk_action": "suspend"}).status_code == 400
