"""Header fields for any text of any length and script: RFC 2047 encoded-words, folded so that no line
is longer than 78 characters (RFC 5322 §2.1.1; the hard limit is 998 octets).

Why not `email.header.Header`: its folding does not count the field name on the first line, and
plain ASCII words longer than a line are left unfolded. Here:
- printable ASCII that fits (no word longer than a line, no "=?") stays readable, folded at spaces;
- anything else becomes UTF-8 "B" encoded-words, each a whole number of characters (§5) and at most
  75 characters long (§2), one per line. Decoders drop the folding between adjacent encoded-words
  (§6.2), so the text reads back exactly.
Control characters (CR, LF, NUL, ...) become spaces first: nothing a person typed can start a field.
"""

from __future__ import annotations

import base64
import re

from mailing.rendering.headers import text_clean

MAX_LINE = 78
_WORD_OVERHEAD = len("=?UTF-8?B??=")
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")
_ATOM_TEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")


def _encoded_words(text: str, first_budget: int) -> list[str]:
    """Encoded-words for `text`; the first fits in `first_budget` characters, the others in a line
    after one space of folding."""
    words: list[str] = []
    chunk = b""
    budget = first_budget
    for character in text:
        encoded = character.encode("utf-8")
        if chunk and 4 * -(-(len(chunk) + len(encoded)) // 3) + _WORD_OVERHEAD > budget:
            words.append(f"=?UTF-8?B?{base64.b64encode(chunk).decode('ascii')}?=")
            chunk = b""
            budget = MAX_LINE - 1
        chunk += encoded
    if chunk or not words:
        words.append(f"=?UTF-8?B?{base64.b64encode(chunk).decode('ascii')}?=")
    return words


def _folded_ascii(name: str, text: str) -> str | None:
    """`text` folded at spaces into lines of at most MAX_LINE, or None if a word cannot fit."""
    lines: list[str] = []
    line = f"{name}:"
    for word in text.split(" "):
        if len(line) + 1 + len(word) <= MAX_LINE:
            line += " " + word
        elif len(word) + 1 <= MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = " " + word
        else:
            return None
    lines.append(line)
    return "\r\n".join(lines)


def unstructured_field(name: str, value: str) -> bytes:
    """`Name: value` + CRLF for an unstructured field (Subject)."""
    text = text_clean(value)
    if _PRINTABLE_ASCII.match(text) and "=?" not in text:
        folded = _folded_ascii(name, text)
        if folded is not None:
            return (folded + "\r\n").encode("ascii")
    words = _encoded_words(text, MAX_LINE - len(name) - 2)
    return (f"{name}: " + "\r\n ".join(words) + "\r\n").encode("ascii")


def phrase_encode(display_name: str, *, first_budget: int) -> str:
    """A display name (RFC 5322 phrase): atoms as they are, other ASCII quoted, anything else as
    encoded-words (allowed in a phrase, RFC 2047 §5(3)); folded lines joined by CRLF SP."""
    text = text_clean(display_name, max_length=200)
    if not text:
        return ""
    if _ATOM_TEXT.match(text) and "=?" not in text and len(text) <= first_budget:
        return text
    if _PRINTABLE_ASCII.match(text) and "=?" not in text:
        quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= first_budget:
            return quoted
    return "\r\n ".join(_encoded_words(text, first_budget))


def mailbox_field(name: str, display_name: str, wire_address: str) -> bytes:
    """`Name: Display <address>` + CRLF; the address (in wire form) on a line of its own when the
    name was encoded, so no line passes MAX_LINE because of a long name."""
    shown = phrase_encode(display_name, first_budget=MAX_LINE - len(name) - 2)
    if not shown:
        return f"{name}: {wire_address}\r\n".encode("ascii")
    separator = "\r\n " if shown.startswith("=?") or len(name) + len(shown) + len(wire_address) + 5 > MAX_LINE else " "
    return f"{name}: {shown}{separator}<{wire_address}>\r\n".encode("ascii")
