"""DKIM signing of outbound list mail (RFC 6376), relaxed/relaxed, rsa-sha256.

Why not dkimpy's `dkim.sign`: it parses the whole message and does RSA in pure Python, which costs
tens of milliseconds per copy; a fan-out signs one copy per recipient. Here the body hash is computed
once per broadcast (`body_hash`), the constant header fields are canonicalized once, and only the RSA
signature (OpenSSL through `cryptography`) is made per recipient. Tests verify the result with dkimpy's
independent `dkim.verify`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_WSP_RUN = re.compile(rb"[ \t]+")
_UNFOLD = re.compile(rb"\r\n(?=[ \t])")
_TRAILING_EMPTY_LINES = re.compile(rb"(\r\n)+$")


def header_canonicalize_relaxed(field: bytes) -> bytes:
    """RFC 6376 §3.4.2: lower-case name, unfold, collapse WSP, no WSP around the colon; ends with CRLF."""
    name, _, value = field.partition(b":")
    value = _UNFOLD.sub(b"", value)
    value = value.rstrip(b"\r\n")
    value = _WSP_RUN.sub(b" ", value).strip(b" ")
    return name.strip().lower() + b":" + value + b"\r\n"


def body_canonicalize_relaxed(body: bytes) -> bytes:
    """RFC 6376 §3.4.4: WSP runs to one SP, no WSP at line ends, no empty lines at the end."""
    lines = body.split(b"\r\n")
    canonical = b"\r\n".join(_WSP_RUN.sub(b" ", line).rstrip(b" ") for line in lines)
    canonical = _TRAILING_EMPTY_LINES.sub(b"", canonical)
    return canonical + b"\r\n" if canonical else b""


def body_hash(body: bytes) -> str:
    """The bh= value of a CRLF body (once per broadcast for mail posts)."""
    return base64.b64encode(hashlib.sha256(body_canonicalize_relaxed(body)).digest()).decode()


@functools.lru_cache(maxsize=64)
def _private_key_load(private_pem: str) -> rsa.RSAPrivateKey:
    # Only keys we generated are stored (tenants.services.dkim_key_generate): OpenSSL's consistency
    # check of a 2048-bit key costs ~45 ms, paid by every worker process before its first copy.
    key = serialization.load_pem_private_key(private_pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("DKIM key must be RSA")
    return key


@dataclass(frozen=True)
class DkimSigner:
    """Signs messages of one domain whose body hash is known; `sign` is the per-recipient step."""

    domain: str
    selector: str
    private_pem: str
    signed_header_names: tuple[str, ...]  # lower-case, in h= order
    body_hash_b64: str
    timestamp: int

    @functools.cached_property
    def _prefix(self) -> bytes:
        # Folded before tags only, so the b= value stays on one line (what verifiers strip is exact).
        return (
            f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain}; s={self.selector};\r\n"
            f"\tt={self.timestamp}; h={':'.join(self.signed_header_names)};\r\n"
            f"\tbh={self.body_hash_b64};\r\n\tb="
        ).encode("ascii")

    @functools.cached_property
    def _prefix_canonical(self) -> bytes:
        return header_canonicalize_relaxed(self._prefix)[:-2]  # the signature header is hashed without CRLF

    def prepared(self, fixed_fields: list[bytes], personal_names: tuple[str, ...]) -> PreparedSigner:
        """A signer for messages whose header is `personal fields (one each of personal_names) +
        fixed_fields`: the fixed fields' canonical forms are computed here, once per broadcast."""
        instances: dict[bytes, list[bytes]] = {}
        for field in fixed_fields:
            name = field.split(b":", 1)[0].strip().lower()
            instances.setdefault(name, []).append(field)
        parts: list[bytes | int] = []
        for name in self.signed_header_names:
            if name in personal_names:
                parts.append(personal_names.index(name))
                continue
            stack = instances.get(name.encode("ascii"))
            if stack:
                parts.append(header_canonicalize_relaxed(stack.pop()))
        return PreparedSigner(signer=self, parts=tuple(parts))

    def signature_field(self, data: bytes) -> bytes:
        signature = _private_key_load(self.private_pem).sign(
            data + self._prefix_canonical, padding.PKCS1v15(), hashes.SHA256()
        )
        return self._prefix + base64.b64encode(signature) + b"\r\n"

    def sign(self, fields: list[bytes]) -> bytes:
        """The DKIM-Signature field (with CRLF) for a message whose header fields are `fields`, in order.

        Each field is `Name: value` with its CRLF (folded lines allowed). A name in h= signs its last
        instance (RFC 6376 §5.4.2); a name that appears more often is signed as often as h= lists it.
        """
        instances: dict[bytes, list[bytes]] = {}
        for field in fields:
            name = field.split(b":", 1)[0].strip().lower()
            instances.setdefault(name, []).append(field)
        signed = []
        for name in self.signed_header_names:
            stack = instances.get(name.encode("ascii"))
            if stack:
                signed.append(header_canonicalize_relaxed(stack.pop()))
        return self.signature_field(b"".join(signed))


@dataclass(frozen=True)
class PreparedSigner:
    """The per-recipient step: canonicalize the personal fields, hash, one RSA signature."""

    signer: DkimSigner
    parts: tuple[bytes | int, ...]  # canonical fixed field, or the index of a personal field

    def sign(self, personal_fields: list[bytes]) -> bytes:
        canonical = [header_canonicalize_relaxed(field) for field in personal_fields]
        data = b"".join(part if isinstance(part, bytes) else canonical[part] for part in self.parts)
        return self.signer.signature_field(data)


# Signed when present (RFC 6376 §5.4.1 recommends these); each in h= as often as it appears.
MESSAGE_SIGNED_HEADERS = (
    "from",
    "reply-to",
    "subject",
    "date",
    "to",
    "cc",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "auto-submitted",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
)


def message_sign(data: bytes, *, domain: str, selector: str, private_pem: str, timestamp: int) -> bytes:
    """A whole message (notices, Django's mail) with our DKIM-Signature field in front; `data` has CRLF
    line endings. Same signer as list copies (relaxed/relaxed, rsa-sha256)."""
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        head, body = data.rstrip(b"\r\n"), b""
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        elif line:
            fields.append(line + b"\r\n")
    present: dict[str, int] = {}
    for field in fields:
        name = field.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        present[name] = present.get(name, 0) + 1
    signed = tuple(name for name in MESSAGE_SIGNED_HEADERS for _ in range(present.get(name, 0)))
    signer = DkimSigner(
        domain=domain,
        selector=selector,
        private_pem=private_pem,
        signed_header_names=signed,
        body_hash_b64=body_hash(body),
        timestamp=timestamp,
    )
    return signer.sign(fields) + data
