"""Absolute links that mail carries to people (unsubscribe; later read confirmation and surveys).

They point at the organization's own host name, which serves its console and its links.
"""

from __future__ import annotations

from django.conf import settings


def tenant_link(*, domain: str, path: str) -> str:
    port = f":{settings.LINK_PORT}" if settings.LINK_PORT else ""
    return f"{settings.LINK_SCHEME}://{domain}{port}{path}"


def unsubscribe_link(*, domain: str, token: str) -> str:
    return tenant_link(domain=domain, path=f"/m/unsubscribe/{token}/")
