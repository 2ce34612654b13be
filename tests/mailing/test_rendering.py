"""Each recipient's copy: list headers, tags, DMARC-safe From, and no header injection."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from email import policy

import dkim
import pytest

from mailing.rendering import ListContext, Recipient
from mailing.rendering.headers import (
    UnusableAddressError,
    address_wire_form,
    mailbox_field,
    text_clean,
    unstructured_encode,
)
from mailing.rendering.mail_post import MailPostRenderer, message_split, subject_tagged
from tenants.services import dkim_key_generate
from tests.factories.outbound import eml

HOSTILE = "Evil\r\nBcc: victim@example.com\nX-Injected: yes\r\n\r\nbody"


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    return dkim_key_generate()


def context(key_pair, **overrides) -> ListContext:
    values = {
        "local_part": "all",
        "name": "All",
        "subject_tag": "",
        "domain": "test.localhost",
        "dkim_selector": "mlp1",
        "dkim_private_key": key_pair[0],
    }
    values.update(overrides)
    return ListContext(**values)


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def header_names(data: bytes) -> list[str]:
    fields, _ = message_split(data)
    return [field.split(b":", 1)[0].decode() for field in fields]


def test_crlf_in_member_name_subject_tag_and_list_name_never_makes_a_header(key_pair):
    renderer = MailPostRenderer.from_raw(
        eml("post_multipart_japanese.eml"),
        context=context(key_pair, name=HOSTILE, subject_tag=HOSTILE),
        rewrite_from=True,
    )
    message = renderer.render(Recipient(address="member@example.org", name=HOSTILE, token="tok12345abcd"))
    names = {name.lower() for name in header_names(message.data)}
    assert "bcc" not in names
    assert "x-injected" not in names
    head = message.data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert line[:1] in (b" ", b"\t") or b":" in line
    parsed = parse(message.data)
    assert parsed["To"].addresses[0].addr_spec == "member@example.org"
    assert parsed["To"].addresses[0].display_name == "Evil Bcc: victim@example.com X-Injected: yes body"
    assert parsed["Subject"].startswith("[Evil Bcc: victim@example.com X-Injected: yes body] ")
    assert not parsed.defects


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\r\nb", "a\x00b", "a\u2028b", "a\x85b"])
def test_text_clean_turns_every_line_break_into_a_space(value):
    assert text_clean(value) == "a b"
    assert b"\n" not in unstructured_encode("Subject", value).rstrip(b"\r\n")
    assert b"\n" not in mailbox_field("To", value, "x@example.org").rstrip(b"\r\n")


def test_subject_tag_is_added_once_and_not_doubled_on_replies():
    assert subject_tagged("Picnic", "All") == "[All] Picnic"
    assert subject_tagged("Picnic", "[All]") == "[All] Picnic"
    assert subject_tagged("Re: [All] Picnic", "All") is None
    assert subject_tagged("Re: [all] Picnic", "All") is None
    assert subject_tagged("Picnic", "") is None


def test_reply_keeps_its_subject_and_headers(key_pair):
    renderer = MailPostRenderer.from_raw(
        eml("reply_plain_tagged.eml"), context=context(key_pair, subject_tag="All"), rewrite_from=False
    )
    parsed = parse(renderer.render(Recipient("m@example.org", "", "tok12345abcd")).data)
    assert parsed["Subject"] == "Re: [All] Picnic on Sunday"
    assert parsed["From"] == "Hanako <hanako@strict-dmarc.example>"
    assert parsed["In-Reply-To"] == "<post-0@sender.example>"
    assert "Reply-To" not in parsed


def test_strict_dmarc_author_gets_list_from_and_reply_to(key_pair):
    renderer = MailPostRenderer.from_raw(
        eml("reply_plain_tagged.eml"), context=context(key_pair, name="All"), rewrite_from=True
    )
    message = renderer.render(Recipient("m@example.org", "", "tok12345abcd"))
    parsed = parse(message.data)
    assert parsed["From"].addresses[0].addr_spec == "all@test.localhost"
    assert parsed["From"].addresses[0].display_name == "Hanako via All"
    assert parsed["Reply-To"].addresses[0].addr_spec == "hanako@strict-dmarc.example"
    assert len(parsed.get_all("From")) == 1


def test_minimal_lf_only_message_gets_date_message_id_and_crlf(key_pair):
    renderer = MailPostRenderer.from_raw(eml("post_minimal_no_date.eml"), context=context(key_pair), rewrite_from=False)
    message = renderer.render(Recipient("m@example.org", "", "tok12345abcd"))
    assert b"\n" not in message.data.replace(b"\r\n", b"")
    parsed = parse(message.data)
    assert parsed["Date"] is not None
    assert parsed["Message-ID"].endswith("@test.localhost>")
    assert message.data.endswith(b"\r\n\r\nHello.\r\n")


def test_envelope_uses_verp_bounce_address_and_quoted_carrier_local_part(key_pair):
    renderer = MailPostRenderer.from_raw(eml("post_minimal_no_date.eml"), context=context(key_pair), rewrite_from=False)
    message = renderer.render(Recipient("taro..yamada@docomo.ne.jp", "", "AbC_-12345678"))
    assert message.envelope_from == "all-bounces+AbC_-12345678@test.localhost"
    assert message.envelope_to == '"taro..yamada"@docomo.ne.jp'
    assert address_wire_form("hanako@example.org") == "hanako@example.org"
    assert address_wire_form("hanako.@ezweb.ne.jp") == '"hanako."@ezweb.ne.jp'


@pytest.mark.parametrize(
    "address",
    ["a\r\nRCPT TO:<x@evil.example>@example.org", "x@example.org\n", "a b@example.org", "<a>@example.org", 'a"b@x.org'],
)
def test_unusable_address_is_refused_before_it_reaches_an_envelope_or_header(address):
    with pytest.raises(UnusableAddressError):
        address_wire_form(address)


def test_copy_verifies_with_dkimpy_and_fails_when_to_or_unsubscribe_is_changed(key_pair):
    renderer = MailPostRenderer.from_raw(
        eml("post_multipart_japanese.eml"), context=context(key_pair, subject_tag="All"), rewrite_from=True
    )
    data = renderer.render(Recipient("m@example.org", "山田 太郎", "tok12345abcd")).data

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name.decode().rstrip(".") == "mlp1._domainkey.test.localhost"
        return f"v=DKIM1; k=rsa; p={key_pair[1]}".encode()

    assert dkim.verify(data, dnsfunc=dns)
    signature = parse(data)["DKIM-Signature"]
    signed = signature.split("h=", 1)[1].split(";", 1)[0].split(":")
    for name in ("from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"):
        assert name in signed
    for name in ("mime-version", "content-type", "reply-to", "list-id", "list-post"):
        assert name in signed
    assert not dkim.verify(data.replace(b"To: ", b"To: x", 1), dnsfunc=dns)
    assert not dkim.verify(data.replace(b"/m/unsubscribe/tok12345abcd/", b"/m/unsubscribe/other12345/"), dnsfunc=dns)
    assert not dkim.verify(data.replace("来週".encode(), "先週".encode()), dnsfunc=dns)


def test_relay_dkim_mode_leaves_signing_to_the_outbound_mta(key_pair, settings):
    settings.OUTBOUND_DKIM_MODE = "relay"
    raw = eml("post_multipart_japanese.eml")
    renderer = MailPostRenderer.from_raw(raw, context=context(key_pair), rewrite_from=False)
    data = renderer.render(Recipient("m@example.org", "山田 太郎", "tok12345abcd")).data

    assert "DKIM-Signature" not in header_names(data)
    copy = parse(data)
    assert copy["To"].addresses[0].addr_spec == "m@example.org"
    assert "/m/unsubscribe/tok12345abcd/" in copy["List-Unsubscribe"]  # for the MTA's signature to cover


def test_outbound_dkim_mode_setting_refuses_unknown_values():
    result = subprocess.run(
        [sys.executable, "-c", "import saas_platform.settings"],
        env={**os.environ, "OUTBOUND_DKIM_MODE": "sometimes"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "OUTBOUND_DKIM_MODE must be one of per_recipient, relay" in result.stderr
