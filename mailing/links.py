"""Absolute links that mail carries to people, on the organization's own host name (which serves its
console, its list addresses and, under /m/, these links).

- `unsubscribe_link`, `read_confirmation_link`, `survey_choice_link`: each copy's own, made from the
  delivery's unguessable token (RFC 8058 for the first). Made for every copy of a fan-out, so their
  paths are written here rather than reversed per copy (mailing/urls.py has the same paths; the
  tests of the pages follow these links).
- `link_url`: signed links in notices (join confirmation, leave, moderation). Tokens are
  django.core.signing values whose salt carries the purpose and the organization's schema, so a
  token made for one purpose or organization is invalid for any other (RELIABILITY.md). They expire
  (max_age) and a tampered token reads exactly like an unknown one.
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


def tenant_link(*, domain: str, path: str) -> str:
    """An absolute URL on an organization's host name (LINK_SCHEME, LINK_PORT)."""
    port = f":{settings.LINK_PORT}" if settings.LINK_PORT else ""
    return f"{settings.LINK_SCHEME}://{domain}{port}{path}"


def unsubscribe_link(*, domain: str, token: str) -> str:
    return tenant_link(domain=domain, path=f"/m/unsubscribe/{token}/")


def read_confirmation_link(*, domain: str, token: str) -> str:
    return tenant_link(domain=domain, path=f"/m/r/{token}/")


def survey_choice_link(*, domain: str, token: str, choice_id: int) -> str:
    return tenant_link(domain=domain, path=f"/m/s/{token}/{choice_id}/")


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


def link_url(view_name: str, purpose: str, payload: dict) -> str:
    """A signed link to `view_name` on the current organization's host."""
    path = reverse(view_name, kwargs={"token": link_token_make(purpose, payload)})
    return tenant_link(domain=connection.tenant.get_primary_domain().domain, path=path)
