"""Every page a mail links to, clicked in chromium from mail caught at a real SMTP relay.

The mail path is the real one: a post or a join mail goes to the MX over SMTP, a dramatiq worker
processes it, the notice (moderation request, join confirmation, welcome) or the list copy arrives at
the capturing relay, and chromium opens the link found in that mail and presses the page's button.
The test client sends no Origin header, so it cannot see what a browser's POST looks like to Django's
CSRF check (`Referrer-Policy: no-referrer` made chromium send `Origin: null`, and every button failed).

tests/mailing/test_link_pages.py fails when a page under /m/ is added without a browser test.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage

import pytest

from mailing.models import InboundMessage, Member
from tests.browser.conftest import screenshot
from tests.factories import member_make, sender_make, unique
from tests.factories.console import managed_list_make
from tests.inbound_support import list_admin_with_email, mail_make, worker_drain
from tests.mailing.outbound_support import capture_wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_URL = re.compile(r"https?://\S+")


@pytest.fixture
def links_to_live_server(settings, console_server):
    """Links in mail point at the live server, as in `make run` (http, the web port)."""
    settings.LINK_SCHEME = "http"
    settings.LINK_PORT = console_server


@pytest.fixture
def mail_world(committed_tenant, links_to_live_server, mx, smtp_capture, dramatiq_broker, dramatiq_worker):
    """A list with a moderator, an unauthenticated registered sender, and two members (a carrier
    address and a guardian with two addresses)."""
    domain = committed_tenant.get_primary_domain().domain
    mailing_list = managed_list_make(name="PTA 2年1組 保護者会")
    sender = f"{unique('writer')}@unsigned.test"
    sender_make(mailing_list, address=sender)
    moderator = f"{unique('moderator')}@school.test"
    list_admin_with_email(mailing_list, moderator)
    member_make(mailing_list, address="taro..yamada@docomo.ne.jp", name="山田 太郎")
    guardian = f"{unique('guardian')}@example.jp"
    member_make(mailing_list, address=guardian, name="鈴木 花子 (保護者)")
    member_make(mailing_list, address=f"{unique('guardian-phone')}@ezweb.ne.jp", name="鈴木 花子 (携帯)")
    return {
        "list": mailing_list,
        "domain": domain,
        "address": f"{mailing_list.local_part}@{domain}",
        "sender": sender,
        "moderator": moderator,
        "guardian": guardian,
        "mx": mx,
        "capture": smtp_capture,
        "broker": dramatiq_broker,
        "worker": dramatiq_worker,
    }


def _mail_to(world, recipient: str, number: int = 1) -> EmailMessage:
    """The `number`th mail the relay received for `recipient` (waits on the relay, not a sleep)."""

    def mails(got) -> list:
        return [m for m in got if recipient in m.rcpt_tos]

    captured = mails(capture_wait_until(world["capture"], lambda got: len(mails(got)) >= number, timeout=30))
    return email.message_from_bytes(captured[number - 1].data, policy=email.policy.default)


def _link(message: EmailMessage, marker: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return next(url for url in _URL.findall(text) if marker in url)


def _post_held(world, subject: str) -> InboundMessage:
    raw = mail_make(from_address=world["sender"], to=world["address"], subject=subject, body="来週の予定です。\n")
    world["mx"].send(mail_from=world["sender"], rcpt_tos=[world["address"]], data=raw)
    worker_drain(world["broker"], world["worker"])
    message = InboundMessage.objects.get(envelope_to=world["address"])
    assert message.state == InboundMessage.State.HELD
    return message


def _click(page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def test_moderator_approves_from_the_mail_and_a_member_unsubscribes_from_the_copy(page, mail_world):
    held = _post_held(mail_world, "運動会のお知らせ")
    notice = _mail_to(mail_world, mail_world["moderator"])
    response = page.goto(_link(notice, "/m/moderate/"))
    assert response.status == 200
    assert response.headers["referrer-policy"] == "same-origin"
    assert "運動会のお知らせ" in page.content()
    screenshot(page, "link-moderate-before")
    _click(page, "承認して配信する")
    assert page.locator("h1").inner_text() == "この投稿は承認され、配信されました。"
    screenshot(page, "link-moderate-approved")
    held.refresh_from_db()
    assert held.state == InboundMessage.State.DISTRIBUTED

    copy = _mail_to(mail_world, mail_world["guardian"])  # the fan-out reached the relay
    _mail_to(mail_world, "taro..yamada@docomo.ne.jp")  # unquoted by the relay, as receiving MTAs do
    assert "運動会のお知らせ" in copy["Subject"]
    unsubscribe_url = _URL.search(copy["List-Unsubscribe"]).group(0).rstrip(">,")
    assert "/m/unsubscribe/" in unsubscribe_url
    response = page.goto(unsubscribe_url)
    assert response.status == 200
    screenshot(page, "link-unsubscribe")
    _click(page, "配信停止")
    assert page.locator("h1").inner_text() == "このリストから退会しました"
    assert not Member.objects.filter(mailing_list=mail_world["list"], address=mail_world["guardian"]).exists()
    assert Member.objects.filter(mailing_list=mail_world["list"], address="taro..yamada@docomo.ne.jp").exists()


def test_moderator_rejects_from_the_mail_and_nothing_is_distributed(page, mail_world):
    held = _post_held(mail_world, "不審な投稿")
    notice = _mail_to(mail_world, mail_world["moderator"])
    page.set_viewport_size({"width": 390, "height": 844})  # moderators open it on their phones
    page.goto(_link(notice, "/m/moderate/"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "phone-link-moderate")
    _click(page, "却下する")
    assert page.locator("h1").inner_text() == "この投稿は却下されました。"
    held.refresh_from_db()
    assert held.state == InboundMessage.State.REJECTED
    worker_drain(mail_world["broker"], mail_world["worker"])
    received = {address for mail in mail_world["capture"].messages for address in mail.rcpt_tos}
    admins = {admin.user.email for admin in mail_world["list"].admins.select_related("user")}
    assert received == admins  # the moderation requests only: no copy went to a member


def test_joining_by_mail_is_confirmed_in_the_browser_and_the_welcome_mail_leads_to_leaving(page, mail_world):
    joiner = f"{unique('new-guardian')}@example.jp"
    join_address = f"{mail_world['list'].local_part}-join@{mail_world['domain']}"
    mail_world["mx"].send(
        mail_from=joiner, rcpt_tos=[join_address], data=mail_make(from_address=joiner, to=join_address, subject="")
    )
    worker_drain(mail_world["broker"], mail_world["worker"])
    confirmation = _mail_to(mail_world, joiner)
    page.goto(_link(confirmation, "/m/join/"))
    assert not Member.objects.filter(mailing_list=mail_world["list"], address=joiner).exists()  # a GET adds nobody
    screenshot(page, "link-join")
    _click(page, "登録する")
    assert page.locator("h1").inner_text() == "リストに登録しました"
    assert Member.objects.filter(mailing_list=mail_world["list"], address=joiner).exists()

    welcome = _mail_to(mail_world, joiner, number=2)
    page.goto(_link(welcome, "/m/leave/"))
    screenshot(page, "link-leave")
    _click(page, "退会する")
    assert page.locator("h1").inner_text() == "リストから退会しました"
    assert not Member.objects.filter(mailing_list=mail_world["list"], address=joiner).exists()
