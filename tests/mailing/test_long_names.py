"""Lists and members with long Japanese names are delivered to; copies that cannot be made fail their
broadcast visibly (history, admins) and are never retried for ever.

Through the real path: a post distributed to the list, a dramatiq worker, the capturing relay."""

from __future__ import annotations

import email
from email import policy

import dkim
import pytest
from django.test import Client

from mailing.models import Broadcast, Delivery, Notice
from mailing.rendering import registry
from mailing.rendering.mail_post import MailPostRenderer
from mailing.tasks.delivery import delivery_batch_send, delivery_retry_send
from tests.conftest import tenant_host
from tests.factories import mailing_list_make, member_make, unique
from tests.factories.console import user_make
from tests.factories.outbound import eml, mail_broadcast_make
from tests.inbound_support import list_admin_with_email, worker_drain
from tests.mailing.test_fanout import dkim_dns

LONG_LIST_NAME = "株式会社サンプル 営業本部 第二営業部 全員"  # 22 characters: the reproduction
LONG_MEMBER_NAME = "株式会社サンプル 営業本部 第二営業部 山田 太郎 (課長補佐) 😀 " * 3


def test_a_list_with_a_long_japanese_name_delivers_every_copy(
    committed_tenant, smtp_capture, dramatiq_broker, dramatiq_worker
):
    mailing_list = mailing_list_make(name=LONG_LIST_NAME, subject_tag="営業二部")
    carrier = member_make(mailing_list, address=f"{unique('taro')}..yamada@docomo.ne.jp", name=LONG_MEMBER_NAME)
    other = member_make(mailing_list, name='鈴木 "花子" \\ 保護者')
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_multipart_japanese.eml"), rewrite_from=True)

    captured = smtp_capture.wait_for(2)
    worker_drain(dramatiq_broker, dramatiq_worker, "delivery")
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENT
    assert sorted(mail.rcpt_tos[0] for mail in captured) == sorted([carrier.address, other.address])
    for mail in captured:
        copy = email.message_from_bytes(mail.data, policy=policy.default)
        assert str(copy["List-Id"]) == f"{LONG_LIST_NAME} <{mailing_list.local_part}.test.localhost>"
        assert copy["From"].addresses[0].display_name == f"山田 太郎 via {LONG_LIST_NAME}"
        assert copy["Subject"] == "[営業二部] 来週の予定について"
        assert max(len(line) for line in mail.data.split(b"\r\n")) <= 998
        assert dkim.verify(mail.data, dnsfunc=dkim_dns(committed_tenant))
    names = {email.message_from_bytes(m.data, policy=policy.default)["To"].addresses[0].display_name for m in captured}
    assert names == {" ".join(LONG_MEMBER_NAME.split()), '鈴木 "花子" \\ 保護者'}


class _Explodes:
    """Stands for a renderer bug that some data triggers every time (the List-Id defect was one)."""

    def __init__(self, *, for_name: str | None = None) -> None:
        self.for_name = for_name
        self.prepared = 0

    def factory(self, broadcast, context):
        self.prepared += 1
        if self.for_name is None:
            raise ValueError("unsafe value for List-Id")
        real = MailPostRenderer.from_broadcast(broadcast, context)
        for_name = self.for_name

        class OneCopyFails:
            def render(self, recipient):
                if recipient.name == for_name:
                    raise ValueError(f"cannot encode {for_name}")
                return real.render(recipient)

        return OneCopyFails()


@pytest.fixture
def admin_and_list(committed_tenant):
    mailing_list = mailing_list_make(name=LONG_LIST_NAME)
    admin_address = f"{unique('admin')}@school.test"
    list_admin_with_email(mailing_list, admin_address)
    return mailing_list, admin_address


def test_a_broadcast_whose_copies_cannot_be_made_fails_visibly_and_is_not_retried(
    committed_tenant, admin_and_list, smtp_capture, dramatiq_broker, dramatiq_worker, monkeypatch, settings
):
    mailing_list, admin_address = admin_and_list
    members = [member_make(mailing_list) for _ in range(3)]
    exploding = _Explodes()
    monkeypatch.setitem(registry.RENDERERS, Broadcast.Channel.MAIL, exploding.factory)
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_multipart_japanese.eml"))
    worker_drain(dramatiq_broker, dramatiq_worker)

    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.FAILED
    assert "unsafe value for List-Id" in broadcast.failure_reason
    statuses = set(Delivery.objects.filter(broadcast=broadcast).values_list("status", "last_response"))
    assert {status for status, _ in statuses} == {Delivery.Status.FAILED}
    assert all(response.startswith("554 5.6.0") for _, response in statuses)
    # The admins are told, in the organization's language, with the reason labelled.
    [notice] = [m for m in smtp_capture.wait_for(1) if m.rcpt_tos == [admin_address]]
    text = email.message_from_bytes(notice.data, policy=policy.default)
    assert "配信されませんでした" in text["Subject"]
    assert "技術的な詳細: ValueError: unsafe value for List-Id" in text.get_content()
    assert not [m for m in smtp_capture.messages if m.rcpt_tos[0] in {member.address for member in members}]
    # Never retried: nothing is left for the retry and stall sweepers (they look at SENDING broadcasts
    # and QUEUED/DEFERRED deliveries), and a batch job delivered again (dramatiq redelivery, a stall
    # re-enqueue) stops before preparing anything.
    prepared = exploding.prepared
    assert not Delivery.objects.filter(
        broadcast=broadcast, status__in=[Delivery.Status.QUEUED, Delivery.Status.DEFERRED]
    ).exists()
    for batch_index in range(len(broadcast.batch_bounds) - 1):
        delivery_batch_send.send(committed_tenant.schema_name, broadcast.id, batch_index)
    delivery_retry_send.send(committed_tenant.schema_name, broadcast.id)
    worker_drain(dramatiq_broker, dramatiq_worker)
    assert exploding.prepared == prepared
    assert Notice.objects.filter(kind="broadcast-failed", recipient=admin_address).count() == 1
    # The console's list page says why.
    owner = user_make(is_owner=True)
    client = Client(HTTP_HOST=tenant_host(committed_tenant))
    client.force_login(owner)
    page = client.get(f"/lists/{mailing_list.pk}/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "配信できなかった投稿" in page
    assert "unsafe value for List-Id" in page
    # So does the send history (F8), and the broadcast's own page.
    history = client.get("/broadcasts/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "だれにも配信されていません" in history
    detail = client.get(f"/broadcasts/{broadcast.pk}/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "unsafe value for List-Id" in detail


def test_a_copy_that_cannot_be_made_fails_alone_and_the_admins_hear_once(
    admin_and_list, smtp_capture, dramatiq_broker, dramatiq_worker, monkeypatch
):
    mailing_list, admin_address = admin_and_list
    fine = [member_make(mailing_list, name="山田 太郎") for _ in range(2)]
    broken = member_make(mailing_list, name="壊れる名前")
    monkeypatch.setitem(registry.RENDERERS, Broadcast.Channel.MAIL, _Explodes(for_name="壊れる名前").factory)
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_multipart_japanese.eml"))
    worker_drain(dramatiq_broker, dramatiq_worker)

    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SENT
    assert "cannot encode 壊れる名前" in broadcast.failure_reason
    delivery = Delivery.objects.get(broadcast=broadcast, member=broken)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_response.startswith("554 5.6.0 copy could not be made")
    received = {m.rcpt_tos[0] for m in smtp_capture.wait_for(3)}
    assert received == {member.address for member in fine} | {admin_address}
