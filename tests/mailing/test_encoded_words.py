"""Property tests: header fields made from any subject or name (any length, any script, control
characters) stay within the line limits, contain nothing but ASCII, start no new field, and read
back as the text that was meant."""

from __future__ import annotations

import email
from email import policy
from email.header import decode_header, make_header

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailing.rendering.encoded_words import mailbox_field, unstructured_field
from mailing.rendering.headers import text_clean

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=1200)
JAPANESE = st.text(
    alphabet=st.sampled_from('株式会社サンプル営業本部第二営業部山田太郎花子（）・ー〜①㈱髙﨑 abcXYZ-."\\'),
    max_size=300,
)
ADDRESS = '"taro..yamada"@docomo.ne.jp'


def _lines(field: bytes) -> list[bytes]:
    assert field.endswith(b"\r\n")
    lines = field[:-2].split(b"\r\n")
    assert all(line[:1] in (b" ", b"\t") for line in lines[1:]), "a folded line must start with white space"
    return lines


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXT, JAPANESE))
@example("【重要】株式会社サンプル 営業本部 第二営業部より 年末年始の営業日のご案内" * 8)
@example("x" * 1200)
@example("Re: =?UTF-8?B?not an encoded word?=")
@example("件名\r\nBcc: victim@example.com")
def test_subject_of_any_text_is_folded_ascii_and_reads_back(text):
    field = unstructured_field("Subject", text)
    assert field.isascii()
    assert all(len(line) <= 78 for line in _lines(field))
    parsed = email.message_from_bytes(field + b"\r\n", policy=policy.default)
    assert parsed["Subject"] == text_clean(text)
    assert list(parsed.keys()) == ["Subject"]  # nothing typed can start another field


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXT, JAPANESE))
@example("山田 太郎（保護者）" * 20)
@example("Suzuki Ichiro " * 14)
@example('He said "hi" \\ bye')
def test_display_name_of_any_text_is_folded_ascii_and_reads_back(name):
    field = mailbox_field("To", name, ADDRESS)
    assert field.isascii()
    lines = _lines(field)
    assert all(len(line) <= 78 for line in lines)
    parsed = email.message_from_bytes(field + b"\r\n", policy=policy.default)
    assert list(parsed.keys()) == ["To"]
    [address] = parsed["To"].addresses
    assert address.addr_spec == "taro..yamada@docomo.ne.jp"
    expected = text_clean(name, max_length=200)
    if "=?" in field.decode():
        # RFC 2047 §6.2 decoding (mail programs); policy.default keeps spaces between encoded-words.
        decoded = str(make_header(decode_header(field.decode().split(":", 1)[1].strip())))
        assert decoded == f"{expected} <{ADDRESS}>"
    else:
        assert address.display_name == expected
