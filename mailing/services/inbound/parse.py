"""Raw bytes -> ParsedMessage. Never raises: a malformed message still gets a ParsedMessage with defects noted.

email.policy.default reads headers (RFC 2047 encoded words) and MIME structure. Japanese mail needs
more than the stdlib codecs: ISO-2022-JP and Shift_JIS mail from Windows and phones carry vendor
characters (①, ㈱, NEC/IBM extensions) that only the superset codecs decode, so each declared
charset is tried with its superset first, then as declared, then replaced character by character.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
from dataclasses import dataclass, field
from email.message import Message

from mailing.rendering.headers import text_clean

# Declared charset -> codecs to try, most capable first (WHATWG Encoding Standard maps shift_jis to
# windows-31j too; cp50221 is not in Python, iso2022_jp_ext covers half-width kana).
_CHARSET_SUPERSETS: dict[str, tuple[str, ...]] = {
    "iso-2022-jp": ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp"),
    "shift_jis": ("cp932", "shift_jis"),
    "shift-jis": ("cp932", "shift_jis"),
    "sjis": ("cp932", "shift_jis"),
    "x-sjis": ("cp932", "shift_jis"),
    "windows-31j": ("cp932",),
    "euc-jp": ("euc_jis_2004", "euc_jp"),
    "us-ascii": ("utf-8", "ascii"),  # 8-bit text mislabelled as ASCII is almost always UTF-8
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "ks_c_5601-1987": ("cp949",),
    "euc-kr": ("cp949",),
}
MAX_TEXT_CHARS = 1_000_000
FIELD_MAX_CHARS = 998  # RFC 5322 §2.1.1: a header line's limit; a longer decoded value is cut there


def _field_text(value: str) -> str:
    """A header value as one line (mailing.rendering.headers.text_clean: CR/LF never reach a header)."""
    return text_clean(value, max_length=FIELD_MAX_CHARS)


@dataclass
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass
class ParsedMessage:
    message: Message
    from_address: str = ""  # "" when there is no usable From
    from_name: str = ""
    subject: str = ""
    message_id: str = ""
    text: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        """A header's value as text ("" when absent or unreadable)."""
        try:
            value = self.message.get(name)
        except Exception:  # a header the policy cannot parse
            value = self.message.get_all(name, [None])[0] if hasattr(self.message, "get_all") else None
        return "" if value is None else str(value)

    def headers(self, name: str) -> list[str]:
        try:
            return [str(value) for value in (self.message.get_all(name) or [])]
        except Exception:
            return []


def iso2022jp_decode_cp932(payload: bytes) -> str:
    """ISO-2022-JP as Windows writes it (CP50220/CP50221): JIS X 0208 pairs may be NEC/IBM extensions
    (row 13: ①, ㈱, ...) that Python's iso2022 codecs refuse. Each pair is mapped to Shift_JIS and read as
    CP932, which has them. Raises UnicodeDecodeError on bytes that are not ISO-2022-JP at all."""
    out: list[str] = []
    mode = "ascii"
    index = 0
    while index < len(payload):
        byte = payload[index]
        if byte == 0x1B:
            sequence = payload[index + 1 : index + 3]
            if sequence in (b"$B", b"$@"):
                mode = "jis"
            elif sequence in (b"(B", b"(J"):
                mode = "ascii"
            elif sequence == b"(I":
                mode = "kana"
            else:
                raise UnicodeDecodeError("iso2022_jp_cp932", payload, index, index + 1, "unknown escape")
            index += 3
            continue
        if byte > 0x7F:
            raise UnicodeDecodeError("iso2022_jp_cp932", payload, index, index + 1, "8-bit byte")
        if mode == "jis" and byte not in (0x0A, 0x0D):
            if index + 1 >= len(payload):
                raise UnicodeDecodeError("iso2022_jp_cp932", payload, index, index + 1, "truncated pair")
            j1, j2 = byte, payload[index + 1]
            s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = j2 + (0x1F if j1 % 2 else 0x7E)
            if s2 >= 0x7F and j1 % 2:
                s2 += 1
            out.append(bytes((s1, s2)).decode("cp932"))
            index += 2
            continue
        out.append(bytes((byte + 0x80,)).decode("cp932") if mode == "kana" else chr(byte))
        index += 1
    return "".join(out)


def _decoders(declared: str, payload: bytes) -> list:
    decoders: list = [lambda data, codec=codec: data.decode(codec) for codec in _CHARSET_SUPERSETS.get(declared, ())]
    if declared == "iso-2022-jp":
        decoders.append(iso2022jp_decode_cp932)
    decoders.append(lambda data: data.decode(declared))
    if b"\x1b" not in payload:  # 8-bit text under a wrong label is usually UTF-8; 7-bit escapes are not
        decoders.append(lambda data: data.decode("utf-8"))
    return decoders


def text_decode(payload: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode body bytes; returns (text, clean). Unknown or wrong charsets never raise."""
    declared = (charset or "utf-8").strip().strip('"').lower()
    for decoder in _decoders(declared, payload):
        try:
            return decoder(payload), True
        except (LookupError, UnicodeDecodeError):
            continue
    for codec in (*_CHARSET_SUPERSETS.get(declared, ()), declared):
        try:
            return payload.decode(codec, errors="replace"), False
        except LookupError:
            continue
    return payload.decode("utf-8", errors="replace"), False


def header_decode(raw_value: str) -> str:
    """A header's text from its raw form, decoding RFC 2047 words with the same charset fallbacks as bodies."""
    try:
        pieces = email.header.decode_header(raw_value)
    except Exception:
        return _field_text(raw_value)
    text = []
    for piece, charset in pieces:
        if isinstance(piece, str):
            text.append(piece)
        else:
            text.append(text_decode(piece, charset or "us-ascii")[0])
    return _field_text("".join(text))


def _raw_header(message: Message, name: str) -> str | None:
    for key, value in message.raw_items() if hasattr(message, "raw_items") else message.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _part_text(part: Message, defects: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    if not isinstance(payload, bytes):
        payload = str(payload).encode("utf-8", "replace")
    text, clean = text_decode(payload, part.get_content_charset())
    if not clean:
        defects.append(f"undecodable {part.get_content_charset()!r} text replaced")
    return text[:MAX_TEXT_CHARS]


def _from_parse(parsed: ParsedMessage) -> None:
    try:
        values = parsed.message.get_all("From") or []
        pairs = email.utils.getaddresses([str(value) for value in values])
    except Exception as error:
        parsed.defects.append(f"unreadable From: {error}")
        return
    pairs = [(name, address) for name, address in pairs if "@" in address]
    if len(pairs) != 1:
        # RFC 5322 allows several authors; DMARC (RFC 7489 6.6.1) treats that as unauthenticatable.
        parsed.defects.append(f"{len(pairs)} From addresses")
        return
    name, address = pairs[0]
    parsed.from_name = _field_text(name)
    parsed.from_address = _field_text(address).strip("<>")


def message_parse(raw: bytes) -> ParsedMessage:
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as error:  # the stdlib parser is lenient; this is for the truly pathological
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        parsed = ParsedMessage(message=message, defects=[f"parse failed: {error}"])
    else:
        parsed = ParsedMessage(message=message)
    parsed.defects.extend(type(defect).__name__ for defect in getattr(message, "defects", []))
    _from_parse(parsed)
    raw_subject = _raw_header(message, "Subject")
    parsed.subject = (
        header_decode(raw_subject) if raw_subject and "=?" in raw_subject else _field_text(parsed.header("Subject"))
    )
    parsed.message_id = _field_text(parsed.header("Message-ID"))
    try:
        parts = list(message.walk())
    except Exception as error:
        parsed.defects.append(f"walk failed: {error}")
        parts = [message]
    for part in parts:
        try:
            if part.is_multipart():
                continue
            disposition = (part.get_content_disposition() or "").lower()
            content_type = part.get_content_type()
            filename = part.get_filename()
            if disposition == "attachment" or filename or not content_type.startswith("text/"):
                payload = part.get_payload(decode=True) or b""
                parsed.attachments.append(
                    Attachment(filename=_field_text(filename or ""), content_type=content_type, size=len(payload))
                )
            elif content_type == "text/plain" and not parsed.text:
                parsed.text = _part_text(part, parsed.defects)
            elif content_type == "text/html" and not parsed.html:
                parsed.html = _part_text(part, parsed.defects)
        except Exception as error:
            parsed.defects.append(f"unreadable part: {error}")
    return parsed
