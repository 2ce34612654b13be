"""Which organization, list and kind an incoming envelope recipient belongs to (the MX's RCPT step).

The lookup reads tenants.Domain in the public schema, then the list in that organization's schema.
Results (including "no such address") are cached in Redis for MX_ROUTE_CACHE_SECONDS, so a burst
of mail costs one database round trip per address; a list created or renamed is found within that
time. A cache that is down is skipped: the database answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django_tenants.utils import schema_context

from mailing.addresses import local_part_parse
from mailing.models import MailingList
from tenants.selectors import domain_schema_name

logger = logging.getLogger(__name__)
_MISS = "-"


@dataclass(frozen=True)
class Route:
    schema_name: str
    kind: str  # InboundMessage.Kind value
    mailing_list_id: int | None  # None for postmaster
    token: str = ""  # the VERP token of a bounce address


def _cache_key(domain: str, list_local_part: str) -> str:
    # Made in the public schema's context (django_tenants.cache.make_key adds the schema name).
    # Keyed on the list, not the full address: every VERP bounce address of a list shares one entry.
    return f"mx-route:{domain}:{list_local_part}"


def _target_lookup(domain: str, list_local_part: str) -> dict | None:
    """{"schema_name", "mailing_list_id"} of the list (or of the organization, for postmaster), or None."""
    schema_name = domain_schema_name(domain=domain)
    if schema_name is None:
        return None
    if not list_local_part:
        return {"schema_name": schema_name, "mailing_list_id": None}
    with schema_context(schema_name):
        # An archived list (read-only, e.g. last year's leaving grade) takes no mail at all.
        list_id = (
            MailingList.objects.filter(local_part=list_local_part, archived_at__isnull=True)
            .values_list("id", flat=True)
            .first()
        )
    if list_id is None:
        return None
    return {"schema_name": schema_name, "mailing_list_id": list_id}


def route_resolve(address: str) -> Route | None:
    """Resolve `local@domain` to its Route, or None when nobody here has that address."""
    local_part, at, domain = address.strip().rpartition("@")
    if not at or not local_part or not domain:
        return None
    parsed = local_part_parse(local_part)
    if parsed is None or (parsed.kind != "postmaster" and not parsed.list_local_part):
        return None
    domain = domain.lower().rstrip(".")
    key = _cache_key(domain, parsed.list_local_part)
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        try:
            target = cache.get(key)
        except Exception:  # the cache is an optimisation; Redis trouble shows at DATA (broker check)
            logger.warning("route cache unavailable", exc_info=True)
            target = None
        if target is None:
            target = _target_lookup(domain, parsed.list_local_part) or _MISS
            # "No such list" is cached briefly: a list created a moment ago must not be refused for long.
            ttl = settings.MX_ROUTE_CACHE_SECONDS if target != _MISS else min(10, settings.MX_ROUTE_CACHE_SECONDS)
            try:
                cache.set(key, target, ttl)
            except Exception:
                logger.warning("route cache unavailable", exc_info=True)
    if target == _MISS:
        return None
    return Route(kind=parsed.kind, token=parsed.token, **target)


def route_forget(domain: str, list_local_part: str) -> None:
    """Drop a cached route at once (a list deleted or renamed) instead of waiting for the TTL."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        try:
            cache.delete(_cache_key(domain.lower(), list_local_part))
        except Exception:
            logger.warning("route cache unavailable", exc_info=True)
