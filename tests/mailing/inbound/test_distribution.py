"""A registered, authenticated sender's post goes out to every active member once (needs the outbound half).

Runs once `mailing.services.broadcasts.broadcast_create_for_mail` (the outbound branch's contract) is
merged; until then the module is skipped, visibly.
"""

from __future__ import annotations

import email
import email.policy
from collections import Counter

from django.test import Client

from mailing.links import link_token_make
from mailing.models import Broadcast, InboundMessage, Member
from mailing.services.inbound.disposition import MODERATION_PURPOSE
from tests.conftest import tenant_host
from tests.factories import mailing_list_make, member_make, sender_make, unique
from tests.inbound_support import dkim_key_make, mail_make, worker_drain


def _copies_by_recipient(captured) -> Counter:
    return Counter(address.lower() for mail in captured for address in mail.rcpt_tos)


def test_registered_authenticated_post_reaches_each_active_member_exactly_once(
    mx, committed_tenant, smtp_capture, dramatiq_broker, dramatiq_worker, dns_settings
):
    domain = f"{unique('author')}.test"
    key = dkim_key_make(dns_settings, domain)
    mailing_list = mailing_list_make()
    author = f"chair@{domain}"
    sender_make(mailing_list, address=author)
    active = [member_make(mailing_list).address for _ in range(3)]
    member_make(mailing_list, status=Member.Status.SUSPENDED, address=f"{unique('paused')}@example.org")
    to = f"{mailing_list.local_part}@{committed_tenant.get_primary_domain().domain}"
    data = key.sign(mail_make(from_address=author, to=to, subject="総会のお知らせ", body="本文です。\n"))

    mx.send(mail_from=author, rcpt_tos=[to], data=data)
    captured = smtp_capture.wait_for(len(active), timeout=30)
    worker_drain(dramatiq_broker, dramatiq_worker)

    message = InboundMessage.objects.get(envelope_to=to)
    assert message.state == InboundMessage.State.DISTRIBUTED, message.decision_reasons
    assert Broadcast.objects.get(inbound_message=message).author_address == author
    copies = _copies_by_recipient(smtp_capture.messages)
    assert copies == Counter({address.lower(): 1 for address in active})
    for mail in captured:
        parsed = email.message_from_bytes(mail.data, policy=email.policy.default)
        assert parsed["To"].addresses[0].addr_spec.lower() == mail.rcpt_tos[0].lower()  # each addressed alone
        assert parsed["Subject"].endswith("総会のお知らせ")


def test_strict_dmarc_authors_post_is_distributed_with_from_rewritten(
    mx, committed_tenant, smtp_capture, dramatiq_broker, dramatiq_worker, dns_settings
):
    domain = f"{unique('strict')}.test"
    key = dkim_key_make(dns_settings, domain)
    dns_settings.txt(f"_dmarc.{domain}", "v=DMARC1; p=reject")
    mailing_list = mailing_list_make()
    author = f"boss@{domain}"
    sender_make(mailing_list, address=author)
    member = member_make(mailing_list)
    to = f"{mailing_list.local_part}@{committed_tenant.get_primary_domain().domain}"
    mx.send(mail_from=author, rcpt_tos=[to], data=key.sign(mail_make(from_address=author, to=to)))
    [copy] = smtp_capture.wait_for(1, timeout=30)
    worker_drain(dramatiq_broker, dramatiq_worker)

    broadcast = Broadcast.objects.get(inbound_message__envelope_to=to)
    assert broadcast.rewrite_from is True
    parsed = email.message_from_bytes(copy.data, policy=email.policy.default)
    assert copy.rcpt_tos == [member.address]
    assert parsed["From"].addresses[0].addr_spec.lower() == to.lower()


def test_moderator_approval_distributes_a_held_post(
    mx, committed_tenant, smtp_capture, dramatiq_broker, dramatiq_worker
):
    mailing_list = mailing_list_make()
    author = f"{unique('plain')}@unsigned.test"
    sender_make(mailing_list, address=author)
    member = member_make(mailing_list)
    to = f"{mailing_list.local_part}@{committed_tenant.get_primary_domain().domain}"
    mx.send(mail_from=author, rcpt_tos=[to], data=mail_make(from_address=author, to=to))
    worker_drain(dramatiq_broker, dramatiq_worker)
    message = InboundMessage.objects.get(envelope_to=to)
    assert message.state == InboundMessage.State.HELD

    token = link_token_make(MODERATION_PURPOSE, {"m": message.id})
    response = Client(HTTP_HOST=tenant_host(committed_tenant)).post(f"/m/moderate/{token}/", {"action": "approve"})
    assert response.status_code == 200
    smtp_capture.wait_for(2, timeout=30)  # the moderation request (to the owners: no list admin) and the copy
    worker_drain(dramatiq_broker, dramatiq_worker)
    message.refresh_from_db()
    assert message.state == InboundMessage.State.DISTRIBUTED
    assert _copies_by_recipient(smtp_capture.messages)[member.address.lower()] == 1
