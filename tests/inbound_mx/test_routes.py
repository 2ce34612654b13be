"""Address routing at RCPT: organization by domain, list in its schema, kind by suffix; cached in Redis."""

from __future__ import annotations

from mailing.selectors.routes import route_forget, route_resolve
from tests.factories import mailing_list_make, unique


def test_list_addresses_resolve_to_their_organization_list_and_kind(committed_tenant):
    mailing_list = mailing_list_make()
    domain = committed_tenant.get_primary_domain().domain
    local = mailing_list.local_part
    assert route_resolve(f"{local}@{domain}").kind == "post"
    assert route_resolve(f"{local.upper()}-JOIN@{domain.upper()}").kind == "join"
    assert route_resolve(f"{local}-leave@{domain}").mailing_list_id == mailing_list.id
    bounce = route_resolve(f"{local}-bounces+AbC123xyZ9@{domain}")
    assert (bounce.kind, bounce.token, bounce.schema_name) == ("bounce", "AbC123xyZ9", committed_tenant.schema_name)
    assert route_resolve(f"postmaster@{domain}").mailing_list_id is None
    reply = route_resolve(f"{local}-join+0ABCDEFGHIJ234567XYZ@{domain}")  # a join confirmation reply, case folded
    assert (reply.kind, reply.token, reply.mailing_list_id) == ("join", "0abcdefghij234567xyz", mailing_list.id)


def test_unknown_lists_domains_and_bad_tokens_do_not_resolve(committed_tenant):
    domain = committed_tenant.get_primary_domain().domain
    assert route_resolve(f"nolist@{domain}") is None
    assert route_resolve("all@not-ours.example") is None
    assert route_resolve(f"x-bounces+bad!token@{domain}") is None
    assert route_resolve(f"x-join+short@{domain}") is None
    assert route_resolve("no-at-sign") is None


def test_a_forgotten_route_sees_a_list_created_after_a_miss(committed_tenant):
    domain = committed_tenant.get_primary_domain().domain
    local_part = unique("latecomer")
    assert route_resolve(f"{local_part}@{domain}") is None
    mailing_list = mailing_list_make(local_part=local_part)
    route_forget(domain, mailing_list.local_part)
    assert route_resolve(f"{mailing_list.local_part}@{domain}").mailing_list_id == mailing_list.id
