"""Sign-up on the public site: the owner's address is verified by a mailed link (through a real SMTP
relay) before the organization exists."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import authenticate
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from accounts.signup import SIGNUPS_PER_HOUR
from tenants.models import Organization, Signup
from tests.factories import unique
from tests.mail_fixtures import free_port

pytestmark = pytest.mark.django_db

PASSWORD = "sakura-2026-spring-open"


@pytest.fixture
def relay(smtp_capture, settings):
    """Django's e-mail API pointed at the capture relay (the hardening branch routes it to
    OUTBOUND_SMTP_URL for every platform mail). The test environment's in-memory backend is replaced
    by the SMTP one: an outbox in memory proves nothing about delivery."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_capture.port
    return smtp_capture


def _client_address() -> str:
    """A client address of this test alone: the sign-up rate limit counts per address (in Redis)."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@pytest.fixture
def public() -> Client:
    return Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=_client_address())


def _form(slug: str, **extra) -> dict:
    return {
        "organization_name": "市立さくら小学校 PTA",
        "slug": slug,
        "username": "sakura-owner",
        "email": "owner@sakura.example.jp",
        "password": PASSWORD,
        "password_again": PASSWORD,
        **extra,
    }


def _link(relay) -> str:
    mail = message_from_bytes(relay.wait_for(1)[-1].data, policy=email_policy.default)
    body = mail.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://localhost/signup/confirm/[^/\s]+/", body).group(0)


def test_sign_up_then_confirm_by_the_mailed_link_creates_the_organization(relay, public):
    slug = unique("sakura")
    response = public.post("/signup/", _form(slug))
    assert response.status_code == 302
    assert not Organization.objects.filter(slug=slug).exists()  # nothing before the address is verified
    link = _link(relay)
    assert relay.messages[0].rcpt_tos == ["owner@sakura.example.jp"]

    page = public.get(link)  # a link scanner's GET changes nothing
    assert b"signup-confirm" in page.content
    assert not Organization.objects.filter(slug=slug).exists()

    done = public.post(f"{link}create/")
    assert done.status_code == 200
    organization = Organization.objects.get(slug=slug)
    assert organization.name == "市立さくら小学校 PTA"
    assert organization.language == "en"
    assert schema_exists(organization.schema_name)
    assert f"http://{slug}.localhost/accounts/login/" in done.content.decode()
    with schema_context(organization.schema_name):
        owner = authenticate(username="sakura-owner", password=PASSWORD)
        assert owner is not None
        assert owner.profile.is_owner
        assert EmailAddress.objects.get(user=owner).verified
    signup = Signup.objects.get(slug=slug)
    assert signup.password_hash == ""  # kept in the account only
    assert public.post(f"{link}create/").status_code == 400  # a link works once


def test_bad_input_is_refused_with_clear_messages(relay, public):
    taken = unique("taken")
    Organization.objects.create(schema_name=f"org_{taken}", slug=taken, name="x")
    page = public.post("/signup/", _form(taken)).content.decode()
    assert f"The id {taken} is taken" in page
    page = public.post("/signup/", _form("x")).content.decode()
    assert "3-40 lower-case letters" in page
    page = public.post("/signup/", _form(unique("ok"), password="short", password_again="short")).content.decode()
    assert "too short" in page
    page = public.post("/signup/", _form(unique("ok"), password_again="different")).content.decode()
    assert "The two passwords differ." in page
    assert relay.messages == []


def test_unknown_expired_and_raced_links_create_nothing(relay, public):
    assert b"signup-error" in public.get("/signup/confirm/not-a-token/").content
    slug = unique("late")
    public.post("/signup/", _form(slug))
    link = _link(relay)
    Signup.objects.filter(slug=slug).update(created_at=timezone.now() - timedelta(days=3))
    assert public.post(f"{link}create/").status_code == 400
    assert not Organization.objects.filter(slug=slug).exists()

    slug = unique("race")
    public.post("/signup/", _form(slug))
    link = _link(relay)
    Organization.objects.create(schema_name=f"org_{slug}", slug=slug, name="first")  # another sign-up won
    response = public.post(f"{link}create/")
    assert response.status_code == 400
    assert b"was taken meanwhile" in response.content


def test_a_relay_that_is_down_gives_a_clear_page_and_the_mail_can_be_sent_again(settings, public, smtp_capture):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nobody listens
    slug = unique("down")
    response = public.post("/signup/", _form(slug), follow=True)
    assert response.status_code == 200
    assert b"signup-mail-failed" in response.content
    settings.EMAIL_PORT = smtp_capture.port  # the relay is back
    response = public.post("/signup/sent/", follow=True)
    assert b"Sent again" in response.content
    link = _link(smtp_capture)
    public.post(f"{link}create/")
    assert Organization.objects.filter(slug=slug).exists()


def test_one_network_may_start_only_so_many_sign_ups_an_hour(relay, public):
    for _ in range(SIGNUPS_PER_HOUR):
        public.post("/signup/", _form(unique("many")))
    page = public.post("/signup/", _form(unique("many"))).content.decode()
    assert "Too many sign-ups from your network" in page
    assert len(relay.messages) == SIGNUPS_PER_HOUR
