"""Every notice reads entirely in its recipient's language: the list admins' own console language,
else the organization's (Japanese here); members get the organization's. Technical detail may follow,
labelled ("技術的な詳細:" / "Technical detail:").

Each kind of notice is produced the way it is in production (the inbound pipeline, the bounce handler)."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from accounts.services import profile_language_set
from mailing.models import Delivery, Member, Notice
from mailing.services.inbound.pipeline import inbound_process
from tests.factories import mailing_list_make, member_make, sender_make, unique
from tests.factories.outbound import eml, mail_broadcast_make
from tests.inbound_support import inbound_make, list_admin_with_email, mail_make, notice_text

_URL = re.compile(r"https?://\S+")
_ADDRESS = re.compile(r"[\w.+\"-]+@[\w.-]+")
# Words in Latin letters; not acronyms such as SPF or DKIM (names of standards, in Japanese text too).
_LATIN_WORD = re.compile(r"(?<![A-Za-z])(?=[A-Za-z]*[a-z])[A-Za-z]{2,}(?![A-Za-z])")
_TECHNICAL = re.compile(r"^(技術的な詳細|Technical detail):.*$", re.MULTILINE)
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _latin_words(text: str, *identifiers: str) -> list[str]:
    """Words in Latin letters left once URLs, addresses, the labelled technical detail and the given
    identifiers (list addresses are identifiers, not English) are taken out."""
    text = _TECHNICAL.sub("", _URL.sub("", _ADDRESS.sub("", text)))
    for identifier in identifiers:
        text = text.replace(identifier, "")
    return _LATIN_WORD.findall(text)


def _assert_japanese(notice: Notice, *identifiers: str) -> None:
    body = notice_text(notice)
    subject = str(email.message_from_bytes(bytes(notice.raw), policy=email.policy.default)["Subject"])
    assert _latin_words(subject, *identifiers) == [], (notice.kind, subject)
    assert _latin_words(body, *identifiers) == [], (notice.kind, body)


@pytest.fixture
def japanese_list(tenant_db):
    assert tenant_db.language == "ja"
    return mailing_list_make(name="2年1組 保護者会")


def _process(mailing_list, *, kind: str = "post", sender: str, subject: str = "運動会のお知らせ"):
    suffix = "" if kind == "post" else f"-{kind}"
    raw = mail_make(from_address=sender, to=f"{mailing_list.local_part}{suffix}@test.localhost", subject=subject)
    message = inbound_make(mailing_list, raw, kind=kind, envelope_from=sender)
    inbound_process(inbound_message_id=message.id)
    return message


def test_a_held_posts_moderation_notice_is_japanese_with_the_technical_reason_labelled(japanese_list):
    sender_make(japanese_list, address="writer@unsigned.test")
    admin = f"{unique('admin')}@school.test"
    list_admin_with_email(japanese_list, admin)
    _process(japanese_list, sender="writer@unsigned.test")
    notice = Notice.objects.get(kind="moderation", recipient=admin)
    _assert_japanese(notice, japanese_list.local_part)
    assert "技術的な詳細:" in notice_text(notice)  # the SPF/DKIM detail is still there, labelled


def test_an_admin_who_chose_english_gets_the_moderation_notice_in_english(japanese_list):
    sender_make(japanese_list, address="writer@unsigned.test")
    admin = f"{unique('admin')}@school.test"
    profile_language_set(user=list_admin_with_email(japanese_list, admin), language="en")
    _process(japanese_list, sender="writer@unsigned.test")
    text = notice_text(Notice.objects.get(kind="moderation", recipient=admin))
    assert "waiting for your decision" in text
    assert not _JAPANESE.search(_TECHNICAL.sub("", text).replace("運動会のお知らせ", "").replace("2年1組 保護者会", ""))


def test_join_leave_and_reject_notices_are_japanese(japanese_list, dns_settings):
    dns_settings.txt("family.test", "v=spf1 ip4:127.0.0.1 -all")  # authenticated senders
    list_admin_with_email(japanese_list, f"{unique('admin')}@school.test")
    _process(japanese_list, kind="join", sender="maybe@forged.test")  # unauthenticated: confirmation
    _process(japanese_list, kind="join", sender="father@family.test")  # authenticated: welcome
    member_make(japanese_list, address="mother@forged.test")
    _process(japanese_list, kind="leave", sender="mother@forged.test")  # unauthenticated: confirmation
    _process(japanese_list, sender="stranger@family.test")  # not a registered sender: reject notice
    kinds = {}
    for notice in Notice.objects.filter(recipient__in=["maybe@forged.test", "father@family.test",
                                                       "mother@forged.test", "stranger@family.test"]):  # fmt: skip
        kinds[notice.kind] = notice
        _assert_japanese(notice, japanese_list.local_part)
    assert set(kinds) == {"join-confirm", "welcome", "leave-confirm", "reject"}


def test_the_bounce_suspension_notice_is_japanese(japanese_list, settings):
    settings.MAIL_BOUNCE_THRESHOLD = 1
    admin = f"{unique('admin')}@school.test"
    list_admin_with_email(japanese_list, admin)
    member = member_make(japanese_list, address="dead@example.org")
    broadcast = mail_broadcast_make(japanese_list, raw=eml("post_minimal_no_date.eml"))
    delivery = Delivery.objects.get(broadcast=broadcast, member=member)
    to = f"{japanese_list.local_part}-bounces+{delivery.token}@test.localhost"
    bounce = eml("bounce_dsn.eml").replace(b"<RECIPIENT>", member.address.encode())
    bounce = bounce.replace(b"LIST-bounces+TOKEN@test.localhost", to.encode())
    message = inbound_make(japanese_list, bounce, kind="bounce", envelope_from="", envelope_to=to)
    inbound_process(inbound_message_id=message.id)
    assert Member.objects.get(id=member.id).status == Member.Status.BOUNCING
    _assert_japanese(Notice.objects.get(kind="bounce-suspended", recipient=admin), japanese_list.local_part)
