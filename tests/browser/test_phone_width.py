"""The console at phone width (390x844, an iPhone 12-15): no page-level sideways scroll, the member
table as one card per member with its actions reachable, the navigation collapsed behind a button.

Screenshots of every page go to test-artifacts/phone-*.png; look at them (docs/console.md)."""

from __future__ import annotations

import pytest
from django.db import connections

from tests.browser.conftest import ARTIFACTS, screenshot
from tests.conftest import TEST_PASSWORD
from tests.factories import member_make, sender_make
from tests.factories.console import managed_list_make, user_make

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
LONG_NAME = "株式会社サンプル 営業本部 第二営業部 全員"


@pytest.fixture
def phone(browser, committed_tenant, console_server):
    context = browser.new_context(locale="ja-JP", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
    connections.close_all()  # as the `page` fixture does (tests/browser/conftest.py)


@pytest.fixture
def owner_with_a_long_list(committed_tenant):
    owner = user_make(is_owner=True)
    mailing_list = managed_list_make(name=LONG_NAME, admin=owner, local_part=None)
    sender_make(mailing_list, address="yamada.taro@sample-corp.example.co.jp", person_name="山田 太郎 (営業本部長)")
    member_make(mailing_list, address="taro..yamada@docomo.ne.jp", name="山田 太郎")
    member_make(
        mailing_list, address="hanako.suzuki.guardian-of-2nd-grade@ezweb.ne.jp", name="鈴木 花子 (2年1組 保護者)"
    )
    member_make(mailing_list, address="hanako.suzuki@example.jp", name="鈴木 花子 (2年1組 保護者)")
    return owner, mailing_list


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: the page is {width}px wide at {PHONE['width']}px"


def _login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    _no_sideways_scroll(page)
    screenshot(page, "phone-01-login")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base_url}/")


def test_the_console_fits_a_phone_screen(phone, base_url, owner_with_a_long_list):
    owner, mailing_list = owner_with_a_long_list
    _login(phone, base_url, owner.username)
    pages = {
        "phone-02-lists": "/",
        "phone-03-list-detail": f"/lists/{mailing_list.pk}/",
        "phone-04-members": f"/lists/{mailing_list.pk}/members/",
        "phone-05-senders": f"/lists/{mailing_list.pk}/senders/",
        "phone-06-admins": f"/lists/{mailing_list.pk}/admins/",
        "phone-09-send-history": "/broadcasts/",
        "phone-10-compose": "/broadcasts/new/",
        "phone-11-my-address": "/accounts/email/",
        "phone-12-audit": "/audit/",
    }
    for name, path in pages.items():
        phone.goto(base_url + path)
        _no_sideways_scroll(phone)
        screenshot(phone, name)


def test_the_navigation_collapses_behind_a_menu_button(phone, base_url, owner_with_a_long_list):
    owner, _mailing_list = owner_with_a_long_list
    _login(phone, base_url, owner.username)
    lists_link = phone.locator("header nav").get_by_role("link", name="リスト一覧")
    assert not lists_link.is_visible()
    assert phone.locator("header").bounding_box()["height"] < 80  # one line: name and menu button
    menu = phone.get_by_role("button", name="メニュー")
    assert menu.get_attribute("aria-expanded") == "false"
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    assert lists_link.is_visible()
    assert phone.locator("#logout").is_visible()
    _no_sideways_scroll(phone)
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "phone-07-menu-open.png"))  # the screen as the person sees it


def test_each_member_is_a_card_with_its_actions_reachable(phone, base_url, owner_with_a_long_list):
    owner, mailing_list = owner_with_a_long_list
    _login(phone, base_url, owner.username)
    phone.goto(f"{base_url}/lists/{mailing_list.pk}/members/")
    rows = phone.locator("#member-table tbody tr")
    assert rows.count() == 3
    for index in range(3):
        card = rows.nth(index).bounding_box()
        assert card["width"] >= 300  # a card across the screen, not a squeezed table row
        for button in ("配信停止", "削除"):
            box = rows.nth(index).get_by_role("button", name=button).bounding_box()
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= PHONE["width"]
            assert box["height"] <= 48  # its label on one line (was one character per line)
            assert box["height"] >= 32  # and big enough for a finger
    card = rows.filter(has_text="taro..yamada@docomo.ne.jp")
    card.get_by_role("button", name="配信停止").click()
    card.get_by_role("button", name="配信再開").wait_for()
    screenshot(phone, "phone-08-member-suspended")
