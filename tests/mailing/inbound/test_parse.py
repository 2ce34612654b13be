"""Parsing real .eml fixtures: Japanese charsets, multipart and attachments, broken and malformed mail."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailing.services.inbound.parse import iso2022jp_decode_cp932, message_parse, text_decode

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_iso_2022_jp_subject_sender_name_and_body_are_decoded():
    parsed = message_parse(fixture("iso2022jp.eml"))
    assert parsed.subject == "会議のお知らせ"
    assert (parsed.from_name, parsed.from_address) == ("田中", "tanaka@example.jp")
    assert "第一会議室" in parsed.text
    assert parsed.defects == []


def test_iso_2022_jp_with_windows_nec_extension_characters_is_decoded():
    parsed = message_parse(fixture("iso2022jp_nec_extension.eml"))
    assert parsed.subject == "① agenda"
    assert parsed.text.startswith("議題① 予算")


def test_shift_jis_with_cp932_characters_and_half_width_kana_is_decoded():
    parsed = message_parse(fixture("shift_jis.eml"))
    assert parsed.subject == "資料送付の件"
    assert parsed.from_name == "鈴木"
    assert "㈱サンプル" in parsed.text
    assert "半角ｶﾅ" in parsed.text


def test_utf8_multipart_keeps_text_html_and_the_attachment():
    parsed = message_parse(fixture("utf8_multipart_attachment.eml"))
    assert parsed.subject == "予定表を送ります 📎"
    assert parsed.text.startswith("来週の予定表")
    assert "来週の予定表" in parsed.html
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [("予定表.pdf", "application/pdf")]
    assert parsed.attachments[0].size > 0


def test_unknown_charset_is_replaced_not_raised():
    parsed = message_parse(fixture("broken_charset.eml"))
    assert parsed.from_address == "broken@example.org"
    assert "invalid bytes" in parsed.text
    assert parsed.defects


@pytest.mark.parametrize("raw", [fixture("malformed.eml"), b"", b"\x00\xff\r\n\r\n", b"From: <>\r\n\r\nx", b":" * 5000])
def test_malformed_input_never_raises(raw):
    parsed = message_parse(raw)
    assert parsed.from_address == "" or "@" in parsed.from_address


def test_several_from_addresses_count_as_no_usable_author():
    parsed = message_parse(b"From: a@example.org, b@example.org\r\nSubject: x\r\n\r\nbody\r\n")
    assert parsed.from_address == ""
    assert "2 From addresses" in parsed.defects


def test_iso2022jp_decoder_matches_the_standard_codec_on_jis_x_0208():
    text = "漢字とかなカナ、記号・英数ABC123"
    assert iso2022jp_decode_cp932(text.encode("iso2022_jp")) == text


def test_mislabelled_utf8_under_us_ascii_is_read_as_utf8():
    assert text_decode("日本語".encode(), "us-ascii") == ("日本語", True)
