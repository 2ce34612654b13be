"""Property tests: every header built from a person's text is right at any length and in any script,
in copies of posts by mail and of web broadcasts, and in notices.

Names of lists, members and senders, subject tags and subjects come from people: long Japanese names,
emoji, quotes, backslashes, text that looks like an encoded-word. For any of them, each rendered copy
(and each notice) must parse back with Python's email parser to the same text, with no line over
998 octets (RFC 5322 §2.1.1), and the copy's DKIM signature must verify. "The same text" is the text
after `text_clean`: control characters and runs of white space become one space (nothing a person
typed can start a header line).
"""

from __future__ import annotations

import email
import email.headerregistry
import email.policy
import email.utils
import functools
import unicodedata
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage

import dkim
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mailing.rendering import ListContext, Recipient
from mailing.rendering.headers import display_name_decode, mailbox_field, text_clean
from mailing.rendering.mail_post import MailPostRenderer
from mailing.rendering.web_broadcast import WebBroadcastRenderer
from mailing.rendering.web_content import WebBroadcastContent
from mailing.services.inbound.parse import message_parse
from mailing.services.notices import notice_message_build
from tenants.services import dkim_key_generate

# What people write: Japanese (kana, kanji, full-width forms, the ideographic space), emoji outside
# the BMP, ASCII with every special of RFC 5322 phrases, encoded-word look-alikes, control characters.
_PIECES = [
    "株式会社サンプル",
    "営業本部",
    "第二営業部",
    "全員",
    "2年1組",
    "保護者会",
    "\uff30\uff34\uff21",  # PTA in full-width letters
    "ｶﾀｶﾅ",
    "\u3000",
    "😀",
    "👨‍👩‍👧",
    "𠮷",
    '"',
    "\\",
    "'",
    "(",
    ")",
    ",",
    ";",
    ":",
    "<",
    ">",
    "@",
    "[",
    "]",
    ".",
    "=?",
    "?=",
    "=?utf-8?q?x?=",
    "=?iso-2022-jp?b?GyRCJDMbKEI=?=",
    " ",
    "  ",
    "\t",
    "\r\n",
    "\n",
    "\x00",
    "Taro",
    "Yamada",
    "via",
]
people_text = st.lists(
    st.one_of(st.sampled_from(_PIECES), st.text(st.characters(exclude_categories=("Cs",)), max_size=8)), max_size=60
).map("".join)
names = people_text.map(lambda value: value[:200])  # names are at most 200 characters (the models)
long_names = st.integers(min_value=150, max_value=200).map(
    lambda n: ("株式会社サンプル 営業本部 第二営業部 全員 " * 20)[:n]
)
any_name = st.one_of(names, long_names)
tags = people_text.map(lambda value: value[:64])
subjects = st.one_of(people_text, st.text(st.characters(exclude_categories=("Cs",)), max_size=300))

PROPERTY_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def _key_pair() -> tuple[str, str]:
    return dkim_key_generate()


def _typed(value: str) -> str:
    """What a mail program can put in a header: no control characters (it cannot type CR, LF or NUL)."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value)


def _post(subject: str, author_name: str) -> bytes:
    """A post as a conforming mail program writes it: RFC 2047 words with the spaces inside them,
    folded between words (email.header.Header; email.policy's generator is not used: it cuts long
    text between words at a space that it leaves outside them, which readers drop, RFC 2047 §6.2),
    and the author's name as one word (formataddr)."""
    body = EmailMessage()
    body.set_content("本文です。\n")
    head = "".join(
        (
            "From: " + email.utils.formataddr((text_clean(author_name), "a@sender.example"), charset="utf-8") + "\r\n",
            "To: list@test.localhost\r\n",
            "Subject: " + Header(_typed(subject), "utf-8", header_name="Subject").encode(linesep="\r\n") + "\r\n",
            "Message-ID: <post@sender.example>\r\n",
        )
    )
    return head.encode("ascii") + body.as_bytes(policy=email.policy.SMTP)


def _assert_lines_short(data: bytes) -> None:
    head = data.split(b"\r\n\r\n", 1)[0]
    too_long = [line for line in data.split(b"\r\n") if len(line) > 998]
    assert not too_long, f"{len(too_long)} lines over 998 octets"
    for line in head.split(b"\r\n"):
        assert line[:1] in (b" ", b"\t") or b":" in line, f"a header line that is no field and no fold: {line!r}"


def _verify(data: bytes, public_b64: str) -> bool:
    def dns(name: bytes, timeout: int = 5) -> bytes:
        return f"v=DKIM1; k=rsa; p={public_b64}".encode()

    return dkim.verify(data, dnsfunc=dns)


def _expected_subject(subject: str, tag: str) -> str:
    """With a tag to add, our Subject: the tag and the subject's text. Without (no tag, or a reply
    that has it), the author's own Subject field, as the author's mail program wrote it."""
    tag = text_clean(tag, max_length=64)
    bracketed = tag if tag.startswith("[") and tag.endswith("]") else f"[{tag}]"
    as_written = str(email.message_from_bytes(_post(subject, ""), policy=email.policy.default)["Subject"])
    if not tag or bracketed.lower() in as_written.lower():
        return as_written
    return f"{bracketed} {text_clean(as_written)}".strip()


@PROPERTY_SETTINGS
@given(list_name=any_name, member_name=any_name, author_name=any_name, tag=tags, subject=subjects)
def test_every_copy_parses_back_to_the_same_names_and_subject(list_name, member_name, author_name, tag, subject):
    key_pair = _key_pair()
    context = ListContext(
        local_part="eigyo2",
        name=list_name,
        subject_tag=tag,
        domain="test.localhost",
        dkim_selector="mlp1",
        dkim_private_key=key_pair[0],
    )
    renderer = MailPostRenderer.from_raw(_post(subject, author_name), context=context, rewrite_from=True)
    data = renderer.render(Recipient(address="taro..yamada@docomo.ne.jp", name=member_name, token="tok12345abcd")).data

    _assert_lines_short(data)
    copy = email.message_from_bytes(data, policy=email.policy.default)
    assert not copy.defects
    [to] = copy["To"].addresses
    assert (to.display_name, to.addr_spec) == (text_clean(member_name), "taro..yamada@docomo.ne.jp")
    [sender] = copy["From"].addresses
    author_shown = text_clean(author_name) or "a"  # an author without a name is shown by the address' user
    if "=?" not in author_name:  # a name that is itself an encoded-word is decoded by every reader
        assert sender.display_name == text_clean(f"{author_shown} via {text_clean(list_name)}")
    assert sender.addr_spec == "eigyo2@test.localhost"
    assert str(copy["Subject"]) == _expected_subject(subject, tag)
    cleaned_list_name = text_clean(list_name)
    assert str(copy["List-Id"]) == (
        f"{cleaned_list_name} <eigyo2.test.localhost>" if cleaned_list_name else "<eigyo2.test.localhost>"
    )
    assert _verify(data, key_pair[1])


@PROPERTY_SETTINGS
@given(list_name=any_name, member_name=any_name, subject=subjects)
def test_every_web_broadcast_copy_parses_back_to_the_same_names_and_subject(list_name, member_name, subject):
    """Web broadcasts (composed in the console) use the same header writers as posts by mail."""
    key_pair = _key_pair()
    context = ListContext(
        local_part="eigyo2",
        name=list_name,
        subject_tag="",
        domain="test.localhost",
        dkim_selector="mlp1",
        dkim_private_key=key_pair[0],
    )
    content = WebBroadcastContent(
        broadcast_id=7,
        subject=subject,
        body_text="来週の予定です。\n",
        created_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        read_confirmation=True,
    )
    renderer = WebBroadcastRenderer.from_content(content, context)
    data = renderer.render(Recipient(address="taro..yamada@docomo.ne.jp", name=member_name, token="tok12345abcd")).data

    _assert_lines_short(data)
    copy = email.message_from_bytes(data, policy=email.policy.default)
    [to] = copy["To"].addresses
    assert (to.display_name, to.addr_spec) == (text_clean(member_name), "taro..yamada@docomo.ne.jp")
    [sender] = copy["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (text_clean(list_name), "eigyo2@test.localhost")
    assert str(copy["Subject"]) == text_clean(subject)
    assert str(copy["List-Id"]) == f"{text_clean(list_name)} <eigyo2.test.localhost>".lstrip()
    assert _verify(data, key_pair[1])


@PROPERTY_SETTINGS
@given(subject=subjects, author_name=any_name)
def test_a_post_from_a_mail_program_is_read_back_with_its_subject_and_author(subject, author_name):
    # Text that is itself an encoded-word ("=?utf-8?q?x?=") is written as it is by mail programs and
    # decoded by every reader: what the author meant cannot be known, so it is left out here.
    assume("=?" not in subject + author_name)
    parsed = message_parse(_post(subject, author_name))
    assert parsed.subject == text_clean(_typed(subject))
    assert parsed.from_name == text_clean(author_name)
    assert parsed.from_address == "a@sender.example"


@PROPERTY_SETTINGS
@given(list_name=any_name, subject=subjects)
def test_every_notice_parses_back_to_the_same_list_name_and_subject(list_name, subject):
    message = notice_message_build(
        from_address="eigyo2-bounces@test.localhost",
        from_name=list_name,
        to="taro..yamada@docomo.ne.jp",
        subject=subject,
        body="本文\n",
        auto_submitted="auto-generated",
        x_loop="eigyo2@test.localhost",
    )
    data = message.as_bytes()
    _assert_lines_short(data)
    notice = email.message_from_bytes(data, policy=email.policy.default)
    [sender] = notice["From"].addresses
    assert sender.display_name == text_clean(list_name)
    assert sender.addr_spec == "eigyo2-bounces@test.localhost"
    assert str(notice["Subject"]) == text_clean(subject)


def test_a_name_too_long_for_one_line_is_cut_into_rfc2047_words_that_read_back_whole():
    name = "😀" * 200  # 800 octets of UTF-8: more than one encoded-word fits on a line
    field = mailbox_field("To", name, "taro..yamada@docomo.ne.jp")
    _assert_lines_short(field + b"\r\n")
    assert field.count(b"=?utf-8?") > 1
    # RFC 2047 readers (ours; mail programs) drop the folding between the words. CPython's address
    # parser shows a space at each cut instead, which is why runs are one word wherever they fit.
    assert display_name_decode(field.split(b":", 1)[1].decode("ascii")) == name


def test_a_subject_with_an_encoded_word_then_plain_text_keeps_the_space_between():
    raw = b"From: a@sender.example\r\nSubject: =?utf-8?b?5byV55So?= back\\slash\r\n\r\nbody\r\n"
    assert message_parse(raw).subject == "引用 back\\slash"  # email.header.decode_header drops that space
