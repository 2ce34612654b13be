"""Who sent this, really: SPF (pyspf), DKIM (dkimpy) and DMARC (RFC 7489) for the From domain.

Timeouts and DNS errors give "temperror" results, never exceptions: an unauthenticated message is
held or refused by the rules, it does not crash processing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field

import dkim
import spf
from publicsuffixlist import PublicSuffixList

from mailing.services.inbound import dns as inbound_dns

logger = logging.getLogger(__name__)

# Mozilla's Public Suffix List as bundled by `publicsuffixlist` (offline; updated with the package).
# Japanese schools and towns register under deeper suffixes (ed.jp, *.tokyo.jp, *.kawasaki.jp): a
# short list of two-label suffixes took chiyoda.tokyo.jp for one organization.
_PSL = PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """RFC 7489 §3.2: the name one label below its public suffix; a public suffix stays itself."""
    name = domain.lower().rstrip(".")
    return _PSL.privatesuffix(name) or name


def aligned(domain_a: str, domain_b: str, mode: str = "r") -> bool:
    """DMARC identifier alignment (RFC 7489 3.1): strict = same name, relaxed = same organizational domain."""
    if not domain_a or not domain_b:
        return False
    if mode == "s":
        return domain_a.lower() == domain_b.lower()
    return organizational_domain(domain_a) == organizational_domain(domain_b)


@dataclass
class DmarcPolicy:
    found: bool = False
    policy: str = "none"  # none | quarantine | reject
    adkim: str = "r"
    aspf: str = "r"
    record: str = ""

    @property
    def strict(self) -> bool:
        """The domain asks receivers to act on failure (quarantine or reject)."""
        return self.found and self.policy in {"quarantine", "reject"}


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for item in record.split(";"):
        key, _, value = item.partition("=")
        if key.strip():
            tags[key.strip().lower()] = value.strip()
    return tags


def dmarc_policy_lookup(from_domain: str) -> DmarcPolicy:
    """The DMARC record for the From domain, falling back to its organizational domain (RFC 7489 6.6.3)."""
    org = organizational_domain(from_domain)
    for name, is_subdomain in ((from_domain, False), (org, org != from_domain.lower())):
        try:
            records = [r for r in inbound_dns.txt_records(f"_dmarc.{name}") if r.lower().startswith("v=dmarc1")]
        except Exception:
            logger.warning("DMARC lookup failed", extra={"domain": name}, exc_info=True)
            records = []
        if len(records) == 1:
            tags = _tags(records[0])
            policy = tags.get("sp" if is_subdomain and "sp" in tags else "p", "none").lower()
            if policy not in {"none", "quarantine", "reject"}:
                policy = "none"
            return DmarcPolicy(
                found=True,
                policy=policy,
                adkim=tags.get("adkim", "r")[:1],
                aspf=tags.get("aspf", "r")[:1],
                record=records[0],
            )
        if name == org:
            break
    return DmarcPolicy()


@dataclass
class AuthenticationResult:
    from_domain: str = ""
    spf_result: str = "none"  # pass | fail | softfail | neutral | none | temperror | permerror
    spf_domain: str = ""  # MAIL FROM domain (HELO when the sender is null)
    dkim_pass_domains: list[str] = field(default_factory=list)
    dmarc: DmarcPolicy = field(default_factory=DmarcPolicy)
    spf_aligned: bool = False
    dkim_aligned: bool = False

    @property
    def from_authenticated(self) -> bool:
        """The From address is vouched for by an aligned SPF or DKIM pass (what DMARC calls a pass)."""
        return self.spf_aligned or self.dkim_aligned

    @property
    def dmarc_fail(self) -> bool:
        """An explicit DMARC failure: the domain publishes quarantine/reject and nothing aligned passed."""
        return self.dmarc.strict and not self.from_authenticated

    @property
    def return_path_authenticated(self) -> bool:
        """SPF passed for the envelope sender's domain: a notice to it is not backscatter to a forged address."""
        return self.spf_result == "pass"

    def as_record(self) -> dict:
        record = asdict(self)
        record["dmarc"] = {"found": self.dmarc.found, "policy": self.dmarc.policy}
        record["from_authenticated"] = self.from_authenticated
        record["dmarc_fail"] = self.dmarc_fail
        return record


_DKIM_D = re.compile(rb"\bd\s*=\s*([^;\s]+)", re.IGNORECASE)


def _dkim_pass_domains(raw: bytes) -> list[str]:
    """Domains (d=) of the DKIM signatures that verify. Each signature is checked on its own."""
    domains: list[str] = []
    try:
        verifier = dkim.DKIM(raw, timeout=5)
        signature_count = len([h for h in verifier.headers if h[0].lower() == b"dkim-signature"])
        for index in range(min(signature_count, 5)):
            try:
                if verifier.verify(idx=index, dnsfunc=inbound_dns.txt_lookup):
                    header = [h for h in verifier.headers if h[0].lower() == b"dkim-signature"][index][1]
                    match = _DKIM_D.search(header)
                    if match:
                        domains.append(match.group(1).decode("ascii", "replace").lower())
            except Exception:
                logger.info("DKIM signature did not verify", exc_info=True)
    except Exception:
        logger.info("DKIM verification failed", exc_info=True)
    return domains


def _spf_check(peer_address: str | None, mail_from: str, helo: str) -> tuple[str, str]:
    if not peer_address:
        return "none", ""
    # RFC 7208 2.4: for the null sender, check postmaster@HELO.
    sender = mail_from or f"postmaster@{helo}"
    domain = sender.rpartition("@")[2].lower()
    try:
        inbound_dns.resolver_get()
        result, _explanation = spf.check2(i=peer_address, s=sender, h=helo or domain, timeout=10)
    except Exception:
        logger.info("SPF check failed", exc_info=True)
        result = "temperror"
    return result, domain


def message_authenticate(*, raw: bytes, from_address: str, mail_from: str, peer_address: str | None, helo: str):
    """SPF, DKIM and DMARC results for the From domain of a stored message."""
    from_domain = from_address.rpartition("@")[2].lower().rstrip(".")
    result = AuthenticationResult(from_domain=from_domain)
    result.spf_result, result.spf_domain = _spf_check(peer_address, mail_from, helo)
    result.dkim_pass_domains = _dkim_pass_domains(raw)
    if from_domain:
        result.dmarc = dmarc_policy_lookup(from_domain)
        result.spf_aligned = result.spf_result == "pass" and aligned(result.spf_domain, from_domain, result.dmarc.aspf)
        result.dkim_aligned = any(aligned(d, from_domain, result.dmarc.adkim) for d in result.dkim_pass_domains)
    return result
