"""Every mail the platform sends leaves through the one outbound path (OUTBOUND_SMTP_URL), DKIM-signed;
a relay that is down delays it, never turns a page into a 500.

Through a real SMTP relay on loopback (tests/mail_fixtures.py), never the in-memory outbox."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy

import dkim
import pytest
from aiosmtpd.controller import Controller
from allauth.account.models import EmailAddress
from django.core.mail import send_mail
from django.db import DatabaseError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from mailing.models import Notice
from mailing.services.notices import notice_queue, notice_send
from saas_platform.mail import outbound_mail_retry_due
from saas_platform.models import OutboundMail
from tenants.models import Domain
from tests.conftest import tenant_host
from tests.factories import mailing_list_make, unique
from tests.factories.console import managed_list_make, user_make
from tests.mail_fixtures import CaptureHandler, free_port
from tests.mailing.test_fanout import dkim_dns

_URL = re.compile(r"https?://\S+")


def _parsed(captured) -> email.message.EmailMessage:
    return email.message_from_bytes(captured.data, policy=policy.default)


def _verifies(data: bytes, domain: Domain) -> bool:
    def lookup(name: bytes, timeout: int = 5) -> bytes:
        if name.decode().rstrip(".") == f"{domain.dkim_selector}._domainkey.{domain.domain}":
            return domain.dkim_dns_record().encode()
        return b""

    return dkim.verify(data, dnsfunc=lookup)


def test_password_reset_leaves_through_the_relay_signed_and_from_the_organization(committed_tenant, smtp_capture):
    user = user_make()
    client = Client(HTTP_HOST=tenant_host(committed_tenant))
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    [captured] = smtp_capture.wait_for(1)
    assert captured.rcpt_tos == [user.email]
    assert captured.mail_from == "no-reply@test.localhost"
    message = _parsed(captured)
    assert message["From"].addresses[0].addr_spec == "no-reply@test.localhost"
    assert message["From"].addresses[0].display_name == committed_tenant.name
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@test.localhost>")
    assert message["Subject"].startswith(f"[{committed_tenant.name}] ")  # the organization, not host:port
    assert dkim.verify(captured.data, dnsfunc=dkim_dns(committed_tenant))
    assert "/accounts/password/reset/key/" in message.get_body(("plain",)).get_content()


def test_an_invited_admin_gets_the_set_password_mail_through_the_relay(committed_tenant, smtp_capture):
    owner = user_make(is_owner=True)
    mailing_list = managed_list_make(admin=owner)
    client = Client(HTTP_HOST=tenant_host(committed_tenant))
    client.force_login(owner)
    new = unique("teacher")
    response = client.post(
        reverse("console:admin_list", kwargs={"list_id": mailing_list.pk}),
        {"username": new, "email": f"{new}@school.test"},
    )
    assert response.status_code == 302
    [captured] = smtp_capture.wait_for(1)
    assert captured.rcpt_tos == [f"{new}@school.test"]
    assert dkim.verify(captured.data, dnsfunc=dkim_dns(committed_tenant))


def test_notices_are_dkim_signed_and_go_to_carrier_addresses_quoted(committed_tenant, smtp_capture):
    mailing_list = mailing_list_make(name="株式会社サンプル 営業本部 第二営業部 全員")
    notice = notice_queue(
        kind="welcome", mailing_list=mailing_list, to="taro..yamada@docomo.ne.jp", subject="ようこそ", body="本文"
    )
    notice_send(notice_id=notice.id)
    [captured] = smtp_capture.wait_for(1)
    assert captured.rcpt_tos == ["taro..yamada@docomo.ne.jp"]
    assert dkim.verify(captured.data, dnsfunc=dkim_dns(committed_tenant))
    assert Notice.objects.get(id=notice.id).state == Notice.State.SENT


def test_mail_from_the_platform_host_is_signed_with_the_platform_domains_key(
    django_db_setup, django_db_blocker, smtp_capture
):
    with django_db_blocker.unblock(), schema_context("public"):
        connection.set_schema_to_public()
        assert send_mail("Confirm your sign-up", "Open the link.", None, ["new-owner@school.test"]) == 1
        platform = Domain.objects.get(domain="localhost")
    [captured] = smtp_capture.wait_for(1)
    assert captured.mail_from == "no-reply@localhost"
    assert _verifies(captured.data, platform)


@pytest.fixture
def relay_down(settings):
    """OUTBOUND_SMTP_URL points at a port where nothing listens yet; `start()` brings a relay up there."""
    port = free_port()
    settings.OUTBOUND_SMTP_URL = f"smtp://127.0.0.1:{port}"
    settings.EMAIL_BACKEND = "saas_platform.mail.EmailBackend"
    handler = CaptureHandler()
    controllers = []

    def start() -> CaptureHandler:
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def test_relay_down_the_reset_is_queued_not_a_500_and_arrives_when_the_relay_is_back(committed_tenant, relay_down):
    user = user_make()
    client = Client(HTTP_HOST=tenant_host(committed_tenant), raise_request_exception=False)
    response = client.post(reverse("account_reset_password"), {"email": user.email}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302  # the usual "we sent you a mail" page
    queued = OutboundMail.objects.get(recipients=[user.email], state=OutboundMail.State.QUEUED)
    assert "relay unreachable" in queued.last_error

    assert outbound_mail_retry_due() == 0  # not due yet: nothing is tried before its time
    handler = relay_down()
    OutboundMail.objects.filter(id=queued.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert outbound_mail_retry_due() >= 1
    [captured] = [m for m in handler.messages if m.rcpt_tos == [user.email]]
    assert "/accounts/password/reset/key/" in _parsed(captured).get_body(("plain",)).get_content()
    queued.refresh_from_db()
    assert queued.state == OutboundMail.State.SENT
    assert bytes(queued.data) == b""  # the reset key does not stay in the database


def test_a_mail_that_can_be_neither_sent_nor_queued_gives_a_try_again_later_page(
    committed_tenant, relay_down, monkeypatch
):
    """The database refusing the queue row stands for the database being down at that moment."""

    def refuse(*args, **kwargs):
        raise DatabaseError("could not connect to server")

    monkeypatch.setattr(OutboundMail.objects, "create", refuse)
    user = user_make()
    client = Client(HTTP_HOST=tenant_host(committed_tenant), raise_request_exception=False)
    response = client.post(reverse("account_reset_password"), {"email": user.email}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert response["Retry-After"] == "120"
    assert b"try again in a few minutes" in response.content


def test_an_invitation_with_the_relay_down_still_adds_the_admin_and_the_mail_waits(committed_tenant, relay_down):
    owner = user_make(is_owner=True)
    mailing_list = managed_list_make(admin=owner)
    client = Client(HTTP_HOST=tenant_host(committed_tenant), raise_request_exception=False)
    client.force_login(owner)
    new = unique("teacher")
    response = client.post(
        reverse("console:admin_list", kwargs={"list_id": mailing_list.pk}),
        {"username": new, "email": f"{new}@school.test"},
    )
    assert response.status_code == 302
    assert OutboundMail.objects.filter(recipients=[f"{new}@school.test"], state=OutboundMail.State.QUEUED).exists()


def test_no_reset_key_reaches_an_address_its_owner_did_not_verify(committed_tenant, smtp_capture):
    user = user_make(is_owner=True)
    # As after someone asked to change the address and its confirmation was never opened.
    unverified = f"{unique('pending')}@attacker.example"
    EmailAddress.objects.create(user=user, email=unverified, verified=False, primary=False)
    client = Client(HTTP_HOST=tenant_host(committed_tenant))
    for address in (unverified, f"{unique('nobody')}@nowhere.example"):
        assert client.post(reverse("account_reset_password"), {"email": address}).status_code == 302
    assert smtp_capture.messages == []  # sent in the request, so it would be here already
    client.post(reverse("account_reset_password"), {"email": user.email})
    assert [m.rcpt_tos for m in smtp_capture.wait_for(1)] == [[user.email]]


def test_a_long_japanese_organization_name_reads_back_whole_in_from_and_subject(committed_tenant, smtp_capture):
    name = "学校法人サンプル学園 附属第二小学校 PTA 連絡網"
    original, connection.tenant.name = connection.tenant.name, name  # as the organization is called
    try:
        subject = "【重要】来週の運動会の持ち物と集合時間について(雨天の場合の連絡方法も含みます)"
        assert send_mail(subject, "本文", None, ["taro..yamada@docomo.ne.jp"]) == 1
    finally:
        connection.tenant.name = original
    [captured] = smtp_capture.wait_for(1)
    message = _parsed(captured)
    assert message["From"].addresses[0].display_name == name
    assert str(message["Subject"]) == subject
    assert max(len(line) for line in captured.data.split(b"\r\n")) <= 998
    assert dkim.verify(captured.data, dnsfunc=dkim_dns(committed_tenant))
