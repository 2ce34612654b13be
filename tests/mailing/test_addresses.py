"""List addresses are read as the routing table in DESIGN.md says; member addresses as carriers send them."""

from __future__ import annotations

import pytest

from mailing.addresses import list_local_part_validate, local_part_parse, member_address_validate
from mailing.errors import MailingUserError


@pytest.mark.parametrize(
    ("local_part", "kind", "list_part", "token"),
    [
        ("all", "post", "all", ""),
        ("All", "post", "all", ""),
        ("grade-3", "post", "grade-3", ""),
        ("grade-3-join", "join", "grade-3", ""),
        ("grade-3-leave", "leave", "grade-3", ""),
        ("grade-3-bounces+Ab3dE_fG-h1", "bounce", "grade-3", "Ab3dE_fG-h1"),
        ("postmaster", "postmaster", "", ""),
        ("PostMaster", "postmaster", "", ""),
    ],
)
def test_local_part_is_read_as_its_kind(local_part, kind, list_part, token):
    parsed = local_part_parse(local_part)
    assert parsed is not None
    assert (parsed.kind, parsed.list_local_part, parsed.token) == (kind, list_part, token)


@pytest.mark.parametrize("local_part", ["all+tag", "all-bounces+bad token", "x-bounces+short"])
def test_plus_addresses_other_than_verp_are_not_ours(local_part):
    assert local_part_parse(local_part) is None


@pytest.mark.parametrize(
    "address",
    ["taro..yamada@docomo.ne.jp", "hanako.@ezweb.ne.jp", "a.b-c_d+e@softbank.ne.jp", "Mixed.Case@Example.COM"],
)
def test_japanese_carrier_addresses_are_accepted_exactly(address):
    assert member_address_validate(f"  {address} ") == address


@pytest.mark.parametrize(
    "address",
    ["", "no-at-sign", "@example.com", "user@", "two words@example.com", "x@localhost", "x@-bad.com",
     "inject\r\nBcc: evil@example.com@example.com", "a<b>@example.com", "a,b@example.com", ".lead@example.com",
     "x@exa_mple.com"],
)  # fmt: skip
def test_bad_member_addresses_are_refused_with_a_reason(address):
    with pytest.raises(MailingUserError, match="mail address"):
        member_address_validate(address)


@pytest.mark.parametrize("local_part", ["all", "grade-3", "class_1.a", "2024"])
def test_good_list_addresses(local_part):
    assert list_local_part_validate(local_part.upper()) == local_part


@pytest.mark.parametrize(
    "local_part", ["", "-x", "x-", "a..b", "postmaster", "news-join", "news-leave", "a-bounces", "a b", "日本"]
)
def test_bad_list_addresses_are_refused(local_part):
    with pytest.raises(MailingUserError):
        list_local_part_validate(local_part)
