"""Join and leave by mail (F3), with confirmation links when the mail is not authenticated."""

from __future__ import annotations

import email
import email.policy
import re
import time

from django.urls import reverse

from mailing.links import link_token_make
from mailing.models import InboundMessage, Member, Notice
from mailing.services.inbound.membership import join_reply_code, join_reply_code_valid
from mailing.services.inbound.pipeline import inbound_process
from tests.factories import mailing_list_make, member_make
from tests.inbound_support import inbound_make, link_path, mail_make, notice_text


def _mail(mailing_list, kind: str, from_address: str) -> InboundMessage:
    raw = mail_make(from_address=from_address, to=f"{mailing_list.local_part}-{kind}@test.localhost", subject="",
                    body="")  # fmt: skip
    message = inbound_make(mailing_list, raw, kind=kind, envelope_from=from_address)
    inbound_process(inbound_message_id=message.id)
    message.refresh_from_db()
    return message


def _link_path(notice: Notice, marker: str) -> str:
    return link_path(notice_text(notice), marker)


def test_authenticated_empty_mail_to_join_adds_the_sender_and_sends_a_welcome(tenant_db, dns_settings):
    dns_settings.txt("joiner.test", "v=spf1 ip4:127.0.0.1 -all")
    mailing_list = mailing_list_make()
    message = _mail(mailing_list, "join", "new@joiner.test")
    assert message.state == InboundMessage.State.DONE
    member = Member.objects.get(mailing_list=mailing_list, address="new@joiner.test")
    assert member.source == Member.Source.JOIN
    welcome = Notice.objects.get(kind="welcome", recipient="new@joiner.test")
    assert "/m/leave/" in notice_text(welcome)


def test_unauthenticated_join_needs_the_confirmation_link_and_get_adds_nobody(tenant_db, tenant_client):
    mailing_list = mailing_list_make()
    _mail(mailing_list, "join", "maybe@forged.test")
    assert not Member.objects.filter(mailing_list=mailing_list).exists()
    notice = Notice.objects.get(kind="join-confirm", recipient="maybe@forged.test")
    assert notice.envelope_from == ""
    path = _link_path(notice, "/m/join/")
    assert tenant_client.get(path).status_code == 200
    assert not Member.objects.filter(mailing_list=mailing_list).exists()
    response = tenant_client.post(path, {"action": "confirm"})
    assert response.status_code == 200
    assert Member.objects.filter(mailing_list=mailing_list, address="maybe@forged.test").count() == 1
    tenant_client.post(path, {"action": "confirm"})  # twice: still one member
    assert Member.objects.filter(mailing_list=mailing_list).count() == 1


def test_list_requiring_confirmation_confirms_even_authenticated_joins(tenant_db, dns_settings):
    dns_settings.txt("careful.test", "v=spf1 ip4:127.0.0.1 -all")
    mailing_list = mailing_list_make(join_requires_confirmation=True)
    message = _mail(mailing_list, "join", "a@careful.test")
    assert not Member.objects.filter(mailing_list=mailing_list).exists()
    assert "the list requires confirmation" in message.decision_reasons[-1]["reason"]


def test_authenticated_mail_to_leave_removes_the_sender(tenant_db, dns_settings):
    dns_settings.txt("leaver.test", "v=spf1 ip4:127.0.0.1 -all")
    mailing_list = mailing_list_make()
    member_make(mailing_list, address="bye@leaver.test")
    message = _mail(mailing_list, "leave", "Bye@Leaver.test")
    assert message.state == InboundMessage.State.DONE
    assert not Member.objects.filter(mailing_list=mailing_list).exists()


def test_unauthenticated_leave_is_confirmed_by_the_member_not_by_the_forger(tenant_db, tenant_client):
    mailing_list = mailing_list_make()
    member_make(mailing_list, address="victim@plain.test")
    _mail(mailing_list, "leave", "victim@plain.test")
    assert Member.objects.filter(mailing_list=mailing_list).exists()
    notice = Notice.objects.get(kind="leave-confirm")
    assert notice.recipient == "victim@plain.test"
    tenant_client.post(_link_path(notice, "/m/leave/"), {"action": "confirm"})
    assert not Member.objects.filter(mailing_list=mailing_list).exists()


def test_auto_reply_to_the_join_address_adds_nobody(tenant_db):
    mailing_list = mailing_list_make()
    raw = mail_make(from_address="bot@example.org", to="x@t", headers={"Auto-Submitted": "auto-generated"})
    message = inbound_make(mailing_list, raw, kind="join", envelope_from="bot@example.org")
    inbound_process(inbound_message_id=message.id)
    message.refresh_from_db()
    assert message.state == InboundMessage.State.DISCARDED
    assert not Notice.objects.exists() or not Notice.objects.filter(recipient="bot@example.org").exists()


def test_tampered_and_expired_join_links_give_clear_pages(tenant_db, tenant_client, settings):
    mailing_list = mailing_list_make()
    token = link_token_make("join", {"l": mailing_list.id, "a": "x@example.org"})
    tampered = reverse("mailing_join", kwargs={"token": token.replace(":", ":A", 1)})
    assert tenant_client.post(tampered, {"action": "confirm"}).status_code == 404
    settings.MAIL_CONFIRMATION_MAX_AGE_SECONDS = -1
    expired = tenant_client.post(reverse("mailing_join", kwargs={"token": token}), {"action": "confirm"})
    assert expired.status_code == 410
    assert not Member.objects.filter(mailing_list=mailing_list).exists()


def _reply_to_confirmation(mailing_list, notice: Notice, from_address: str) -> InboundMessage:
    reply_to = email.message_from_bytes(bytes(notice.raw), policy=email.policy.default)["Reply-To"]
    raw = mail_make(from_address=from_address, to=str(reply_to), subject="Re: confirm", body="")
    message = inbound_make(mailing_list, raw, kind="join", envelope_from=from_address, envelope_to=str(reply_to))
    inbound_process(inbound_message_id=message.id)
    message.refresh_from_db()
    return message


def test_replying_to_the_join_confirmation_adds_the_sender(tenant_db):
    mailing_list = mailing_list_make()
    _mail(mailing_list, "join", "phone@carrier.test")  # unauthenticated: a confirmation is sent
    notice = Notice.objects.get(kind="join-confirm", recipient="phone@carrier.test")
    reply_to = email.message_from_bytes(bytes(notice.raw), policy=email.policy.default)["Reply-To"]
    assert re.fullmatch(rf"{mailing_list.local_part}-join\+[0-9a-z]{{20}}@test\.localhost", str(reply_to))
    assert "このメールにそのまま返信しても確認できます" in notice_text(notice)  # the organization speaks Japanese

    message = _reply_to_confirmation(mailing_list, notice, "Phone@Carrier.test")
    assert message.state == InboundMessage.State.DONE
    assert "replied to the confirmation mail" in message.decision_reasons[-1]["reason"]
    assert Member.objects.filter(mailing_list=mailing_list, address__iexact="phone@carrier.test").count() == 1
    assert Notice.objects.filter(kind="welcome", recipient__iexact="phone@carrier.test").exists()


def test_a_confirmation_code_works_only_for_its_own_address_and_not_when_expired(tenant_db, settings):
    mailing_list = mailing_list_make()
    _mail(mailing_list, "join", "victim@example.test")
    notice = Notice.objects.get(kind="join-confirm", recipient="victim@example.test")
    # Somebody else replies with the victim's code: not a member, they get a confirmation of their own.
    message = _reply_to_confirmation(mailing_list, notice, "forger@example.test")
    assert not Member.objects.filter(mailing_list=mailing_list).exists()
    assert "does not match" in message.decision_reasons[-1]["reason"]
    assert Notice.objects.filter(kind="join-confirm", recipient="forger@example.test").exists()
    # A code from too long ago.
    old_day = int(time.time() // 86400) - settings.MAIL_CONFIRMATION_MAX_AGE_SECONDS // 86400 - 1
    code = join_reply_code(mailing_list, "late@example.test", day=old_day)
    assert not join_reply_code_valid(mailing_list, "late@example.test", code)
    assert join_reply_code_valid(mailing_list, "late@example.test", join_reply_code(mailing_list, "late@example.test"))
    assert not join_reply_code_valid(mailing_list, "late@example.test", "zzzz" + code[4:])
