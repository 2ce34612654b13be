"""Building header fields safely: nothing a person typed can start a new header line.

Every value that comes from a person (member names, subject tags, list names, subjects) passes
through `text_clean`, which turns CR, LF and other control characters into spaces before anything is
encoded, so `"Taro\\r\\nBcc: x@evil"` can only ever be a display name. Non-ASCII text becomes RFC 2047
encoded-words; folding uses CRLF + space (RFC 5322 §2.2.3). `text_clean` is the one header text
cleaner: inbound parsing, notices and the web broadcasts' encoded words (encoded_words.py) use it too.
"""

from __future__ import annotations

import re
from email.header import Header

# Unicode categories Cc (C0 and C1 controls), Zl, Zp and Cs (lone surrogates), as one character class.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_ATOM_TEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def text_clean(value: str, *, max_length: int = 900) -> str:
    """A one-line version of `value`: control characters (CR, LF, NUL, ...), line and paragraph separators
    become single spaces, runs of white space one space; at most `max_length` characters."""
    return " ".join(_CONTROL.sub(" ", value).split())[:max_length]


def unstructured_encode(name: str, value: str) -> bytes:
    """`Name: value` + CRLF for an unstructured field (Subject), RFC 2047-encoded and folded if needed."""
    cleaned = text_clean(value)
    encoded = Header(cleaned, header_name=name, maxlinelen=78).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


_USABLE_ADDRESS = re.compile(r"^[!#-'*+\-/-9=?A-Z^-~.]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\Z")


class UnusableAddressError(ValueError):
    """An address that cannot be put in an envelope or header safely (spaces, CR/LF, <, >, quotes)."""


def address_wire_form(address: str) -> str:
    """The address as SMTP and RFC 5322 want it: the local part quoted unless it is a dot-atom.

    `taro..yamada@docomo.ne.jp` (a real Japanese carrier address) becomes `"taro..yamada"@docomo.ne.jp`,
    which means the same mailbox (RFC 5321 §4.1.2, quoted-string); receiving MTAs unquote it.
    """
    if not _USABLE_ADDRESS.match(address):
        # Rows that skipped validation (imports, raw SQL) must not inject SMTP commands or headers.
        raise UnusableAddressError(f"unusable address {address!r}")
    local, _, domain = address.rpartition("@")
    if _DOT_ATOM.match(local):
        return address
    return f'"{local}"@{domain}'  # the pattern above admits neither quotes nor backslashes


def display_name_encode(name: str) -> str:
    """A display name for `Name <address>`: plain, quoted, or RFC 2047 encoded-words; never CR/LF."""
    cleaned = text_clean(name, max_length=200)
    if not cleaned:
        return ""
    if _ATOM_TEXT.match(cleaned):
        return cleaned
    if cleaned.isascii():
        return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return Header(cleaned, charset="utf-8", maxlinelen=76).encode(linesep="\r\n")


def mailbox_field(name: str, display_name: str, address: str) -> bytes:
    """`Name: Display <address>` + CRLF."""
    shown = display_name_encode(display_name)
    wire = address_wire_form(address)
    value = f"{shown} <{wire}>" if shown else wire
    return f"{name}: {value}\r\n".encode("ascii")


def raw_field(name: str, value: str) -> bytes:
    """A field whose value we composed ourselves from safe parts (URLs, our addresses, tokens)."""
    if _CONTROL.search(value) or not value.isascii():
        raise ValueError(f"unsafe value for {name}")
    return f"{name}: {value}\r\n".encode("ascii")
