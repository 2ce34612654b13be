"""RFC 8058 one-click unsubscribe: a cookie-less POST removes the member; a GET changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mailing.links import unsubscribe_link
from mailing.models import Delivery, Member
from tests.conftest import tenant_host
from tests.factories import mailing_list_make, member_make
from tests.factories.outbound import eml, mail_broadcast_make


@pytest.fixture
def delivery(tenant_db) -> Delivery:
    mailing_list = mailing_list_make(name="Parents")
    member_make(mailing_list, address="stay@example.org")
    member_make(mailing_list, address="leave@example.org")
    broadcast = mail_broadcast_make(mailing_list, raw=eml("post_minimal_no_date.eml"))
    return Delivery.objects.get(broadcast=broadcast, address="leave@example.org")


@pytest.fixture
def mail_provider(tenant) -> Client:
    """What a mail provider's one-click POST looks like: no cookies, no CSRF token."""
    return Client(HTTP_HOST=tenant_host(tenant), enforce_csrf_checks=True)


def test_link_in_mail_is_the_unsubscribe_url(delivery):
    path = reverse("mailing_unsubscribe", args=[delivery.token])
    assert unsubscribe_link(domain="test.localhost", token=delivery.token) == f"https://test.localhost{path}"


def test_get_shows_a_button_and_changes_nothing(delivery, mail_provider):
    url = reverse("mailing_unsubscribe", args=[delivery.token])
    for _ in range(2):  # link scanners prefetch
        response = mail_provider.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        assert b'name="List-Unsubscribe" value="One-Click"' in response.content
        assert b"leave@example.org" in response.content
    assert Member.objects.filter(address="leave@example.org").exists()
    assert response["Cache-Control"].startswith("max-age=0")


def test_one_click_post_without_cookies_or_csrf_token_removes_the_member(delivery, mail_provider):
    url = reverse("mailing_unsubscribe", args=[delivery.token])
    response = mail_provider.post(url, {"List-Unsubscribe": "One-Click"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert not Member.objects.filter(address="leave@example.org").exists()
    assert Member.objects.filter(address="stay@example.org").exists()
    again = mail_provider.post(url, {"List-Unsubscribe": "One-Click"}, HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 200  # repeated POSTs are harmless
    page = mail_provider.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert b"no longer receives mail" in page.content
    assert b"<form" not in page.content


def test_post_without_the_one_click_body_changes_nothing(delivery, mail_provider):
    url = reverse("mailing_unsubscribe", args=[delivery.token])
    assert mail_provider.post(url, {}).status_code == 400
    assert Member.objects.filter(address="leave@example.org").exists()


def test_unknown_tampered_and_malformed_tokens_get_the_same_404(delivery, mail_provider):
    tampered = delivery.token[:-1] + ("A" if delivery.token[-1] != "A" else "B")
    responses = [
        mail_provider.post(
            reverse("mailing_unsubscribe", args=[token]), {"List-Unsubscribe": "One-Click"}, HTTP_ACCEPT_LANGUAGE="en"
        )
        for token in (tampered, "x" * 22, "short", "a" * 200, "..%2F..%2Fetc")
    ]
    assert {response.status_code for response in responses} == {404}
    assert len({response.content for response in responses}) == 1
    assert Member.objects.filter(address="leave@example.org").exists()


def test_token_of_one_organization_is_unknown_on_another(delivery, other_tenant):
    client = Client(HTTP_HOST=tenant_host(other_tenant), enforce_csrf_checks=True)
    response = client.post(reverse("mailing_unsubscribe", args=[delivery.token]), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
