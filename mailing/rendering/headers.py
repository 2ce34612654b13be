"""Building header fields safely: nothing a person typed can start a new header line.

Every value that comes from a person (member names, subject tags, list names, subjects) passes
through `text_clean`, which turns CR, LF and other control characters into spaces before anything is
encoded, so `"Taro\\r\\nBcc: x@evil"` can only ever be a display name. Non-ASCII text becomes RFC 2047
encoded-words; folding uses CRLF + space (RFC 5322 §2.2.3). `text_clean` is the one header text
cleaner: inbound parsing, notices and the web broadcasts' encoded words (encoded_words.py) use it too.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Callable
from email.header import Header

# Unicode categories Cc (C0 and C1 controls), Zl, Zp and Cs (lone surrogates), as one character class.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_ATOM_TEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
# Display names and list descriptions up to this many characters (after cleaning) are kept whole:
# "<author> via <list name>" with two 200-character names fits. Folding keeps every line short.
DISPLAY_NAME_MAX = 500
_FOLD_AT = 76


def text_clean(value: str, *, max_length: int = 900) -> str:
    """A one-line version of `value`: control characters (CR, LF, NUL, ...), line and paragraph separators
    become single spaces, runs of white space one space; at most `max_length` characters."""
    return " ".join(_CONTROL.sub(" ", value).split())[:max_length]


def _encoded_words(text: str, field_name: str) -> str:
    """RFC 2047 UTF-8 encoded-words, folded with CRLF + space between words (each line short).

    Used for any non-ASCII text and for ASCII text containing "=?", which readers would otherwise
    decode as if it were an encoded-word."""
    return Header(text, charset="utf-8", header_name=field_name, maxlinelen=_FOLD_AT).encode(linesep="\r\n")


def _ascii_folded(text: str, first_line_used: int) -> str:
    """ASCII text folded at its own spaces only (RFC 5322 §2.2.3: unfolding gives back the same text;
    email.header.Header would also fold after commas and semicolons, which adds a space)."""
    lines: list[str] = []
    current = ""
    used = first_line_used
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and used + len(candidate) > _FOLD_AT:
            lines.append(current)
            current, used = word, 1
        else:
            current = candidate
    lines.append(current)
    return "\r\n ".join(lines)


def _needs_encoding(text: str) -> bool:
    return not text.isascii() or "=?" in text


def unstructured_encode(name: str, value: str) -> bytes:
    """`Name: value` + CRLF for an unstructured field (Subject), RFC 2047-encoded and folded if needed."""
    cleaned = text_clean(value)
    encoded = _encoded_words(cleaned, name) if _needs_encoding(cleaned) else _ascii_folded(cleaned, len(name) + 2)
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


# One encoded-word may be longer than RFC 2047's 75 characters (Python writes such words itself when
# it does not fold); a run of non-ASCII words is one encoded-word up to this many octets of UTF-8, so
# its line stays under 998 octets. Longer runs are split into standard 75-character words.
_LONG_WORD_MAX_OCTETS = 720
_PHRASE_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")


def _encoded_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _phrase_tokens(cleaned: str, field_name: str) -> list[str]:
    """A display name as phrase words (RFC 5322 §3.2.5): plain atoms where a word is one, and each run
    of other words (Japanese, emoji, quotes...) as ONE encoded-word, spaces included.

    Why one word per run: readers must drop the white space between two adjacent encoded-words
    (RFC 2047 §6.2), but Python's address parser keeps it, so a name cut into several words reads back
    with extra spaces there. A run is cut only when it would not fit on one line."""
    tokens: list[str] = []
    run: list[str] = []

    def run_end() -> None:
        if not run:
            return
        text = " ".join(run)
        if len(text.encode("utf-8")) <= _LONG_WORD_MAX_OCTETS:
            tokens.append(_encoded_word(text))
        else:
            tokens.append(_encoded_words(text, field_name))
        run.clear()

    for word in cleaned.split(" "):
        if _PHRASE_ATOM.match(word) and "=?" not in word:
            run_end()
            tokens.append(word)
        else:
            run.append(word)
    run_end()
    return tokens


def _tokens_folded(tokens: list[str], first_line_used: int) -> str:
    """Tokens joined by spaces, a fold (CRLF + space) before a token that would pass column 76."""
    out = ""
    used = first_line_used  # characters on the current line so far
    for token in tokens:
        if out and used + 1 + len(token.split("\r\n", 1)[0]) > _FOLD_AT:
            out += "\r\n "
            used = 1
        elif out:
            out += " "
            used += 1
        out += token
        used = len(token.rsplit("\r\n", 1)[1]) if "\r\n" in token else used + len(token)
    return out


def _display_tokens(name: str, field_name: str) -> list[str]:
    cleaned = text_clean(name, max_length=DISPLAY_NAME_MAX)
    if not cleaned:
        return []
    if cleaned.isascii() and "=?" not in cleaned and not _ATOM_TEXT.match(cleaned):
        quoted = '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= 300:
            return [quoted]
    return _phrase_tokens(cleaned, field_name)


def display_name_encode(name: str, *, field_name: str = "To") -> str:
    """A display name for `Name <address>`: atoms, a quoted string, or RFC 2047 encoded-words; never
    CR/LF other than folding, and no line over 998 octets (RFC 5322 §2.1.1) at any length."""
    return _tokens_folded(_display_tokens(name, field_name), len(field_name) + 2)


def mailbox_field(name: str, display_name: str, address: str) -> bytes:
    """`Name: Display <address>` + CRLF, folded where a line would pass column 76."""
    wire = address_wire_form(address)
    tokens = _display_tokens(display_name, name)
    value = _tokens_folded([*tokens, f"<{wire}>"], len(name) + 2) if tokens else wire
    return f"{name}: {value}\r\n".encode("ascii")


def list_id_field(list_name: str, list_id: str) -> bytes:
    """`List-Id: description <list-id>` (RFC 2919) + CRLF. The description is a phrase like a display
    name, but readers show List-Id as unstructured text: it is plain atoms or encoded-words (never a
    quoted string, whose quotes and backslashes would show), folded like any long name."""
    if _CONTROL.search(list_id) or not list_id.isascii():
        raise ValueError("unsafe List-Id")
    cleaned = text_clean(list_name, max_length=DISPLAY_NAME_MAX)
    if not cleaned:
        return f"List-Id: <{list_id}>\r\n".encode("ascii")
    if _needs_encoding(cleaned) or not _ATOM_TEXT.match(cleaned):
        description = _encoded_words(cleaned, "List-Id")
    else:
        description = _ascii_folded(cleaned, len("List-Id: "))
    return f"List-Id: {description} <{list_id}>\r\n".encode("ascii")


def raw_field(name: str, value: str) -> bytes:
    """A field whose value we composed ourselves from safe parts (URLs, our addresses, tokens)."""
    if _CONTROL.search(value) or not value.isascii():
        raise ValueError(f"unsafe value for {name}")
    return f"{name}: {value}\r\n".encode("ascii")


# --- Reading what others wrote -----------------------------------------------------------------------
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_PHRASE_TOKEN = re.compile(r'(\s+)|("(?:[^"\\]|\\.)*")|(=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=)|([^\s"]+)')
TextDecoder = Callable[[bytes, str], str]


def _codec_decode(payload: bytes, charset: str) -> str:
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _encoded_word_decode(match: re.Match, decode: TextDecoder) -> str | None:
    charset, encoding, text = match.groups()
    charset = charset.split("*", 1)[0].lower()  # RFC 2231 §5: charset*language
    try:
        if encoding.lower() == "b":
            payload = base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
        else:
            payload = quopri.decodestring(text.replace("_", " ").encode("ascii"), header=True)
    except (ValueError, UnicodeEncodeError, binascii.Error):
        return None
    return decode(payload, charset)


def encoded_words_decode(raw_value: str, *, decode: TextDecoder = _codec_decode) -> str:
    """An unstructured field's text from its raw form (RFC 2047), as one line.

    White space between two encoded-words is dropped (RFC 2047 §6.2); any other text, and the space
    between an encoded-word and plain text, is kept (email.header.decode_header drops that space:
    `=?utf-8?b?5byV55So?= back` became "引用back"). `decode` turns a word's bytes into text (the
    inbound parser passes its charset fallbacks for Japanese mail)."""
    pieces: list[str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(raw_value):
        between = raw_value[position : match.start()]
        if not (position and not between.strip()):
            pieces.append(between)
        decoded = _encoded_word_decode(match, decode)
        pieces.append(match.group(0) if decoded is None else decoded)
        position = match.end()
    pieces.append(raw_value[position:])
    return text_clean("".join(pieces), max_length=998)


def display_name_decode(raw_value: str, *, decode: TextDecoder = _codec_decode) -> str:
    """The display name of a `phrase <address>` field as written (RFC 5322 §3.4): encoded-words decoded
    (white space between two of them dropped, RFC 2047 §6.2), quoted strings unquoted; "" when the
    value is not of that form.

    Python's address parser keeps the white space between encoded-words, so a long Japanese name that
    a mail program cut into several words reads back from it with spaces in the middle."""
    value = text_clean(raw_value, max_length=len(raw_value))  # unfolded; cut only once decoded
    if not value.endswith(">") or "<" not in value:
        return ""
    pieces: list[str] = []
    after_encoded_word = False
    space = ""
    for blank, quoted, encoded, other in _PHRASE_TOKEN.findall(value[: value.rindex("<")].strip()):
        if blank:
            space = " "
            continue
        decoded = _encoded_word_decode(_ENCODED_WORD.match(encoded), decode) if encoded else None
        if decoded is not None:
            pieces.extend(("" if after_encoded_word else space, decoded))
            after_encoded_word, space = True, ""
            continue
        pieces.extend((space, re.sub(r"\\(.)", r"\1", quoted[1:-1]) if quoted else (encoded or other)))
        after_encoded_word, space = False, ""
    return text_clean("".join(pieces), max_length=DISPLAY_NAME_MAX)
