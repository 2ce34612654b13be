"""Mail about a person's own account, followed in chromium from the test relay: the whole password
reset (request, mail, link, new password, login) and a change of one's own address (it counts only
once the new address's owner opens the confirmation link)."""

from __future__ import annotations

import email
import re
import uuid
from email import policy

import pytest
from allauth.account.models import EmailAddress

from tests.browser.conftest import screenshot
from tests.browser.test_console_browser import login
from tests.factories import unique
from tests.factories.console import user_make
from tests.mailing.outbound_support import capture_wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
_URL = re.compile(r"https?://\S+")


def _mail_to(capture, address: str, number: int = 1) -> email.message.EmailMessage:
    def mails(got) -> list:
        return [m for m in got if address in m.rcpt_tos]

    captured = mails(capture_wait_until(capture, lambda got: len(mails(got)) >= number, timeout=30))
    return email.message_from_bytes(captured[number - 1].data, policy=policy.default)


def _link(message, marker: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return next(url for url in _URL.findall(text) if marker in url)


def test_forgotten_password_is_reset_from_the_mail_and_the_new_one_logs_in(page, base_url, smtp_capture):
    user = user_make()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_role("link", name="パスワードをお忘れですか?").click()
    page.fill("input[name=email]", user.email)
    screenshot(page, "reset-01-request")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "/accounts/password/reset/done/" in page.url

    mail = _mail_to(smtp_capture, user.email)
    assert mail["From"].addresses[0].addr_spec == "no-reply@test.localhost"
    response = page.goto(_link(mail, "/accounts/password/reset/key/"))
    assert response.status == 200
    screenshot(page, "reset-02-new-password")
    new_password = "新しい-Passw0rd-" + unique("x")
    page.fill("input[name=password1]", new_password)
    page.fill("input[name=password2]", new_password)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "/accounts/password/reset/key/done/" in page.url

    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", user.username)
    page.fill("input[name=password]", new_password)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    assert page.locator("h1").inner_text() == "メーリングリスト"
    screenshot(page, "reset-03-logged-in")


def test_a_person_changes_their_own_address_and_it_counts_once_confirmed(page, base_url, smtp_capture):
    user = user_make()
    login(page, base_url, user.username)
    page.goto(f"{base_url}/accounts/email/")
    # Unique across runs too: allauth sends one confirmation per address per 3 minutes (its rate
    # limit lives in Redis, which outlives a test run).
    new_address = f"{unique('new')}-{uuid.uuid4().hex[:8]}@school.test"
    page.fill("input[name=email]", new_address)
    with page.expect_navigation():
        page.click("button[name=action_add]")
    screenshot(page, "email-01-added")
    user.refresh_from_db()
    assert user.email != new_address  # not before its owner confirms it
    assert not EmailAddress.objects.filter(email=new_address, verified=True).exists()

    confirmation = _mail_to(smtp_capture, new_address)
    page.goto(_link(confirmation, "/accounts/confirm-email/"))
    screenshot(page, "email-02-confirm")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    user.refresh_from_db()
    assert user.email == new_address
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified")) == [(new_address, True)]
