"""Signed links in notices (join confirmation, leave, moderation). Opened on the organization's host under /m/.

Tokens are django.core.signing values whose salt carries the purpose and the organization's schema,
so a token made for one purpose or organization is invalid for any other (RELIABILITY.md). They
expire (max_age) and a tampered token reads exactly like an unknown one.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.db import connection
from django.urls import reverse


class LinkInvalidError(Exception):
    """Tampered, unknown, for another purpose or organization."""


class LinkExpiredError(LinkInvalidError):
    """Signed by us, but older than its max age."""


def _salt(purpose: str) -> str:
    return f"mailing.links.{purpose}.{connection.schema_name}"


def link_token_make(purpose: str, payload: dict) -> str:
    return signing.dumps(payload, salt=_salt(purpose), compress=True)


def link_token_read(purpose: str, token: str, *, max_age: int) -> dict:
    try:
        value = signing.loads(token, salt=_salt(purpose), max_age=max_age)
    except signing.SignatureExpired as error:
        raise LinkExpiredError(str(error)) from error
    except signing.BadSignature as error:
        raise LinkInvalidError(str(error)) from error
    if not isinstance(value, dict):
        raise LinkInvalidError("unexpected token content")
    return value


def organization_url(path: str) -> str:
    """An absolute URL on the current organization's host (the host that also carries its list addresses)."""
    domain = connection.tenant.get_primary_domain().domain
    port = f":{settings.LINK_PORT}" if settings.LINK_PORT else ""
    return f"{settings.LINK_SCHEME}://{domain}{port}{path}"


def link_url(view_name: str, purpose: str, payload: dict) -> str:
    return organization_url(reverse(view_name, kwargs={"token": link_token_make(purpose, payload)}))
