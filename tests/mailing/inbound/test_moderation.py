"""Moderation links: a GET shows the held post, the POST buttons decide; bad links get a clear page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from mailing.links import link_token_make
from mailing.models import InboundMessage, Notice
from mailing.services.inbound.disposition import MODERATION_PURPOSE
from mailing.services.inbound.pipeline import inbound_process
from tests.conftest import tenant_host
from tests.factories import mailing_list_make, sender_make
from tests.inbound_support import inbound_make, link_path, list_admin_with_email, mail_make, notice_text


@pytest.fixture
def held(tenant_db) -> InboundMessage:
    mailing_list = mailing_list_make()
    sender_make(mailing_list, address="writer@plain.test")
    list_admin_with_email(mailing_list, "moderator@test.example")
    raw = mail_make(from_address="writer@plain.test", to="x@test.localhost", subject="Please release me")
    message = inbound_make(mailing_list, raw, envelope_from="writer@plain.test")
    inbound_process(inbound_message_id=message.id)
    message.refresh_from_db()
    assert message.state == InboundMessage.State.HELD
    return message


def _url(message: InboundMessage) -> str:
    return reverse("mailing_moderate", kwargs={"token": link_token_make(MODERATION_PURPOSE, {"m": message.id})})


def test_moderation_link_in_the_notice_opens_the_page_and_get_changes_nothing(held, tenant_client):
    notice = Notice.objects.get(kind="moderation", inbound_message__isnull=True, recipient="moderator@test.example")
    path = link_path(notice_text(notice), "/m/moderate/")
    for _ in range(2):
        response = tenant_client.get(path)
        assert response.status_code == 200
        assert b"Please release me" in response.content
        assert b'name="action" value="approve"' in response.content
    held.refresh_from_db()
    assert held.state == InboundMessage.State.HELD


def test_moderator_reject_refuses_the_post_and_answers_twice_harmlessly(held, tenant_client):
    response = tenant_client.post(_url(held), {"action": "reject"})
    assert response.status_code == 200
    held.refresh_from_db()
    assert held.state == InboundMessage.State.REJECTED
    assert {"rule": "moderation", "result": "reject", "reason": "rejected by link"} in held.decision_reasons
    tenant_client.post(_url(held), {"action": "approve"})
    held.refresh_from_db()
    assert held.state == InboundMessage.State.REJECTED


def test_tampered_moderation_link_gives_a_clear_not_valid_page(held, tenant_client):
    token = link_token_make(MODERATION_PURPOSE, {"m": held.id})
    response = tenant_client.post(f"/m/moderate/{token[:-2]}xy/", {"action": "reject"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert b"not valid" in response.content
    held.refresh_from_db()
    assert held.state == InboundMessage.State.HELD


def test_expired_moderation_link_gives_a_clear_expired_page(held, tenant_client, settings):
    settings.MAIL_MODERATION_MAX_AGE_SECONDS = -1
    response = tenant_client.get(_url(held), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 410
    assert b"expired" in response.content


def test_moderation_link_of_one_organization_is_invalid_on_another_host(held, tenant, other_tenant):
    url = _url(held)
    response = Client(HTTP_HOST=tenant_host(other_tenant)).post(url, {"action": "reject"})
    assert response.status_code == 404
    connection.set_tenant(tenant)  # the request left the connection on the other organization's schema
    held.refresh_from_db()
    assert held.state == InboundMessage.State.HELD


def test_a_link_for_joining_is_not_a_moderation_link(held, tenant_client):
    token = link_token_make("join", {"m": held.id})
    assert tenant_client.get(f"/m/moderate/{token}/").status_code == 404
