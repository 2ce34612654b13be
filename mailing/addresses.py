"""The addresses of a list under its organization's domain, and how an incoming one is read.

| address                        | kind       |
|--------------------------------|------------|
| LIST@org-domain                | post       |
| LIST-join@org-domain           | join       |
| LIST-leave@org-domain          | leave      |
| LIST-bounces+TOKEN@org-domain  | bounce     |
| LIST-join+CODE@org-domain      | join (a reply confirming a join: membership.join_reply_code) |
| postmaster@org-domain          | postmaster |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailing.errors import MailingUserError

JOIN_SUFFIX = "-join"
LEAVE_SUFFIX = "-leave"
BOUNCES_SUFFIX = "-bounces"
POSTMASTER = "postmaster"
# Lower-case letters, digits, dots, hyphens and underscores; starts and ends with a letter or digit.
LIST_LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
RESERVED_LOCAL_PARTS = frozenset({POSTMASTER, "abuse", "mailer-daemon", "no-reply", "noreply", "root", "hostmaster"})
BOUNCE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
JOIN_REPLY_CODE = re.compile(r"^[0-9a-z]{20}$")  # lower case: mail programs and phones may fold case


@dataclass(frozen=True)
class ParsedLocalPart:
    kind: str  # "post" | "join" | "leave" | "bounce" | "postmaster" (InboundMessage.Kind values)
    list_local_part: str  # "" for postmaster
    token: str = ""  # the VERP token of a bounce address, or the code of a join confirmation reply


def list_local_part_validate(local_part: str) -> str:
    """Return the normalized local part of a new or renamed list, or raise MailingUserError."""
    value = local_part.strip().lower()
    if not LIST_LOCAL_PART.match(value):
        raise MailingUserError(
            "A list address may use lower-case letters, digits, '.', '-' and '_', "
            "and must start and end with a letter or digit."
        )
    if ".." in value:
        raise MailingUserError("A list address may not contain two dots in a row.")
    if value in RESERVED_LOCAL_PARTS:
        raise MailingUserError(f"'{value}' is reserved and cannot be a list address.")
    for suffix in (JOIN_SUFFIX, LEAVE_SUFFIX, BOUNCES_SUFFIX):
        if value.endswith(suffix):
            raise MailingUserError(f"A list address may not end with '{suffix}': that address belongs to a list.")
    return value


def local_part_parse(local_part: str) -> ParsedLocalPart | None:
    """Read the local part of an address under an organization's domain, or None if it cannot be ours.

    Whether the list exists is for the caller to check (in the organization's schema).
    """
    value = local_part.lower()
    if value == POSTMASTER:
        return ParsedLocalPart(kind="postmaster", list_local_part="")
    if "+" in value:
        base, _, token = local_part.partition("+")  # the token keeps its case
        base = base.lower()
        if base.endswith(BOUNCES_SUFFIX) and BOUNCE_TOKEN.match(token):
            return ParsedLocalPart(kind="bounce", list_local_part=base[: -len(BOUNCES_SUFFIX)], token=token)
        if base.endswith(JOIN_SUFFIX) and JOIN_REPLY_CODE.match(token.lower()):
            return ParsedLocalPart(kind="join", list_local_part=base[: -len(JOIN_SUFFIX)], token=token.lower())
        return None
    if value.endswith(BOUNCES_SUFFIX):
        return ParsedLocalPart(kind="bounce", list_local_part=value[: -len(BOUNCES_SUFFIX)])
    for suffix, kind in ((JOIN_SUFFIX, "join"), (LEAVE_SUFFIX, "leave")):
        if value.endswith(suffix):
            return ParsedLocalPart(kind=kind, list_local_part=value[: -len(suffix)])
    return ParsedLocalPart(kind="post", list_local_part=value)


def list_address(local_part: str, domain: str) -> str:
    return f"{local_part}@{domain}"


def join_address(local_part: str, domain: str) -> str:
    return f"{local_part}{JOIN_SUFFIX}@{domain}"


def join_reply_address(local_part: str, domain: str, code: str) -> str | None:
    """Where a reply confirms a join, or None when the address would be too long (RFC 5321: 64)."""
    local = f"{local_part}{JOIN_SUFFIX}+{code}"
    return f"{local}@{domain}" if len(local) <= 64 else None


def leave_address(local_part: str, domain: str) -> str:
    return f"{local_part}{LEAVE_SUFFIX}@{domain}"


def bounce_address(local_part: str, domain: str, token: str) -> str:
    return f"{local_part}{BOUNCES_SUFFIX}+{token}@{domain}"


# A member or sender address. Deliberately looser than RFC 5322 on the local part: Japanese
# carrier addresses such as `taro..yamada@docomo.ne.jp` or `hanako.@ezweb.ne.jp` are real and
# common (SPEC.md), so dots may repeat or end the local part. Still refused: spaces, control
# characters (CR/LF would reach headers), quotes, angle brackets, commas, a missing or bad domain.
_MEMBER_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def member_address_validate(address: str) -> str:
    """Return the address stripped of surrounding spaces, exactly as given otherwise; or raise MailingUserError."""
    value = address.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise MailingUserError(f"'{value}' is not a mail address (it needs one @ with text on both sides).")
    if not _MEMBER_LOCAL.match(local) or local.startswith("."):
        raise MailingUserError(f"'{value}' is not a mail address (the part before @ has characters mail cannot use).")
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise MailingUserError(f"'{value}' is not a mail address (the domain after @ is not valid).")
    if len(value) > 254:
        raise MailingUserError(f"'{value}' is too long for a mail address.")
    return value
