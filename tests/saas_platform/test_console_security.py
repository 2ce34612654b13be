"""F12 and login: allauth with user name or e-mail, rate limits on Redis, logout ends the session,
no-store on console responses, CSRF on htmx posts."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from mailing.services import members
from tests.conftest import TEST_PASSWORD, tenant_host
from tests.factories import member_make
from tests.factories.console import managed_list_make, user_make

pytestmark = pytest.mark.usefixtures("tenant_db")


def _login(client: Client, login: str, password: str = TEST_PASSWORD):
    return client.post(reverse("account_login"), {"login": login, "password": password})


@pytest.fixture
def client(tenant_db) -> Client:
    return Client(HTTP_HOST=tenant_host(tenant_db))


@pytest.mark.parametrize("field", ["username", "email"])
def test_login_with_user_name_or_email(client, field):
    user = user_make(is_owner=True)
    response = _login(client, getattr(user, field))
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_wrong_password_gets_nothing(client):
    user = user_make()
    response = _login(client, user.username, "wrong")
    assert response.status_code == 200  # the form again, with an error
    assert client.get("/").status_code == 302


def test_sixth_wrong_password_for_an_account_is_refused_even_with_the_right_one(client):
    cache.clear()  # the rate-limit counters live in Redis (per organization schema keys)
    user = user_make()
    for _ in range(5):
        assert _login(client, user.username, "wrong").status_code == 200
    response = _login(client, user.username, TEST_PASSWORD)
    assert response.status_code in {200, 429}
    assert client.get("/").status_code == 302  # still not logged in
    cache.clear()


def test_logout_ends_the_session_on_the_server(client):
    user = user_make(is_owner=True)
    _login(client, user.username)
    session_key = client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=session_key).exists()
    client.post(reverse("account_logout"))
    assert not Session.objects.filter(session_key=session_key).exists()
    # Replaying the old cookie gets the login page, not the console.
    replay = Client(HTTP_HOST=client.defaults["HTTP_HOST"])
    replay.cookies["sessionid"] = session_key
    assert replay.get("/").status_code == 302


def test_console_and_login_pages_are_no_store_and_htmx_history_is_off(client):
    user = user_make(is_owner=True)
    login_page = client.get(reverse("account_login"))
    assert "no-store" in login_page["Cache-Control"]
    _login(client, user.username)
    response = client.get("/")
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert '"historyCacheSize":0' in html
    assert '"refreshOnHistoryMiss":true' in html
    assert "X-CSRFToken" in html


def test_htmx_post_without_csrf_token_is_refused(tenant_db):
    mailing_list = managed_list_make()
    member = member_make(mailing_list)
    owner = user_make(is_owner=True)
    client = Client(HTTP_HOST=tenant_host(tenant_db), enforce_csrf_checks=True)
    client.force_login(owner)
    url = reverse("console:member_status", kwargs={"list_id": mailing_list.pk, "member_id": member.pk})
    response = client.post(url, {"action": "suspend"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.status == "active"
    # With the token the page carries (hx-headers), the same post works.
    client.get(reverse("console:member_list", kwargs={"list_id": mailing_list.pk}))
    token = client.cookies["csrftoken"].value
    response = client.post(url, {"action": "suspend"}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.status == "suspended"


def test_language_follows_the_profile_and_time_zone_the_organization(client, tenant_db):
    user = user_make(is_owner=True)
    client.force_login(user)
    assert "メーリングリスト" in client.get("/").content.decode()
    client.post(reverse("console:language_set"), {"language": "en", "next": "/"})
    user.profile.refresh_from_db()
    assert user.profile.language == "en"
    fresh = Client(HTTP_HOST=client.defaults["HTTP_HOST"])  # no language cookie: the profile decides
    fresh.force_login(user)
    assert "Mailing lists" in fresh.get("/").content.decode()


def test_sign_up_is_closed_and_not_offered(client):
    assert "signup" not in client.get(reverse("account_login")).content.decode()
    response = client.post(
        reverse("account_signup"),
        {"username": "intruder", "email": "i@example.com", "password1": "x-Long-pass-1", "password2": "x-Long-pass-1"},
    )

    assert not get_user_model().objects.filter(username="intruder").exists()
    assert response.status_code in {200, 302}


def test_password_reset_sends_a_mail(client, mailoutbox):
    user = user_make()
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [user.email]


def test_login_with_totp_enabled_asks_for_the_code(client):
    user = user_make(is_owner=True)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    response = _login(client, user.username)
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get("/").status_code == 302  # password alone is not enough
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_owner_sees_and_filters_the_audit_log(tenant_db):
    owner = user_make(is_owner=True)
    mailing_list = managed_list_make()
    members.member_add(mailing_list=mailing_list, address="audited@example.com", actor=owner)
    client = Client(HTTP_HOST=tenant_host(tenant_db))
    client.force_login(owner)
    page = client.get(reverse("console:audit"), {"action": "member.add", "list": mailing_list.pk}).content.decode()
    assert "audited@example.com" in page
    assert owner.username in page
    page = client.get(reverse("console:audit"), {"action": "sender.", "list": mailing_list.pk}).content.decode()
    assert "audited@example.com" not in page


def test_list_page_shows_addresses_and_the_carrier_notice(tenant_db):
    owner = user_make(is_owner=True)
    mailing_list = managed_list_make()
    client = Client(HTTP_HOST=tenant_host(tenant_db))
    client.force_login(owner)
    page = client.get(reverse("console:list_detail", kwargs={"list_id": mailing_list.pk})).content.decode()
    domain = tenant_host(tenant_db)
    assert f"{mailing_list.local_part}@{domain}" in page
    assert f"{mailing_list.local_part}-join@{domain}" in page
    assert f"ドメイン「{domain}」" in page  # the ready-to-send text for carrier filters (F13), in Japanese
