"""The DNS resolver for SPF, DKIM and DMARC checks, configured by settings.DNS_NAMESERVERS.

pyspf calls dnspython's module-level resolver, so `resolver_get` also installs ours as
dns.resolver.default_resolver; dkimpy takes a `dnsfunc` (`txt_lookup` below).
"""

from __future__ import annotations

import dns.nameserver
import dns.resolver
from django.conf import settings

_configured_for: tuple | None = None


def resolver_get() -> dns.resolver.Resolver:
    global _configured_for
    wanted = (tuple(settings.DNS_NAMESERVERS), settings.DNS_TIMEOUT_SECONDS)
    if _configured_for == wanted and dns.resolver.default_resolver is not None:
        return dns.resolver.default_resolver
    if settings.DNS_NAMESERVERS:
        resolver = dns.resolver.Resolver(configure=False)
        servers = []
        for entry in settings.DNS_NAMESERVERS:
            host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            servers.append(dns.nameserver.Do53Nameserver(host or entry, int(port or 53)))
        resolver.nameservers = servers
    else:
        resolver = dns.resolver.Resolver()
    resolver.lifetime = settings.DNS_TIMEOUT_SECONDS
    resolver.timeout = settings.DNS_TIMEOUT_SECONDS
    resolver.cache = None  # answers are cached by the authoritative TTLs upstream, not here
    dns.resolver.default_resolver = resolver
    _configured_for = wanted
    return resolver


def txt_records(name: str) -> list[str]:
    """TXT strings at `name` (each record's strings joined); [] when there are none."""
    try:
        answer = resolver_get().resolve(name, "TXT", raise_on_no_answer=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers, dns.resolver.NoAnswer):
        return []
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def txt_lookup(name: bytes | str, timeout: float = 5) -> bytes | None:
    """dkimpy's dnsfunc: the first TXT record at `name` as bytes."""
    text = name.decode() if isinstance(name, bytes) else name
    records = txt_records(text.rstrip("."))
    return records[0].encode() if records else None
