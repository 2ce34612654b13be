"""The console in a real browser (chromium): login, logout then Back, members, CSV import, a denial."""

from __future__ import annotations

import re

import pytest

from mailing.models import Member
from tests.browser.conftest import screenshot
from tests.conftest import TEST_PASSWORD
from tests.factories import member_make
from tests.factories.console import managed_list_make, user_make

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base_url}/")


@pytest.fixture
def owner_and_list(committed_tenant):
    owner = user_make(is_owner=True)
    mailing_list = managed_list_make(name="テスト 2年1組", admin=owner)
    return owner, mailing_list


def test_login_shows_the_dashboard_in_japanese(page, base_url, owner_and_list):
    owner, mailing_list = owner_and_list
    page.goto(f"{base_url}/")
    assert "/accounts/login/" in page.url  # the console needs a login
    screenshot(page, "01-login")
    login(page, base_url, owner.username)
    assert page.get_by_role("link", name=mailing_list.name).is_visible()
    assert page.locator("h1").inner_text() == "メーリングリスト"
    screenshot(page, "02-dashboard")
    page.get_by_role("link", name=mailing_list.name).click()
    assert page.locator("#join-address").inner_text() == f"{mailing_list.local_part}-join@test.localhost"
    assert "test.localhost" in page.locator("#howto-text").input_value()
    screenshot(page, "02b-list-overview")


def test_after_logout_back_shows_no_console_content(page, base_url, owner_and_list):
    owner, mailing_list = owner_and_list
    member_make(mailing_list, address="secret-member@example.com")
    login(page, base_url, owner.username)
    page.goto(f"{base_url}/lists/{mailing_list.pk}/members/")
    assert page.get_by_role("cell", name="secret-member@example.com", exact=True).is_visible()
    page.click("#logout")
    page.wait_for_load_state()
    page.go_back()
    page.wait_for_load_state()
    screenshot(page, "03-back-after-logout")
    assert "secret-member@example.com" not in page.content()
    assert "/accounts/login/" in page.url
    page.go_back()
    page.wait_for_load_state()
    assert "secret-member@example.com" not in page.content()


def test_add_a_member_then_suspend_and_resume(page, base_url, owner_and_list):
    owner, mailing_list = owner_and_list
    login(page, base_url, owner.username)
    page.goto(f"{base_url}/lists/{mailing_list.pk}/members/")
    page.click("#member-add-link")
    page.fill("#id_address", "taro..yamada@docomo.ne.jp")
    page.fill("#id_name", "山田 太郎")
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(re.compile(r".*/members/$"))
    row = page.locator("tr", has_text="taro..yamada@docomo.ne.jp")
    assert "山田 太郎" in row.inner_text()
    member = Member.objects.get(mailing_list=mailing_list, address="taro..yamada@docomo.ne.jp")
    screenshot(page, "04-member-added")

    row.get_by_role("button", name="配信停止").click()
    page.locator(f"#member-{member.pk} .status-suspended").wait_for()
    member.refresh_from_db()
    assert member.status == Member.Status.SUSPENDED
    screenshot(page, "05-member-suspended")
    page.locator(f"#member-{member.pk}").get_by_role("button", name="配信再開").click()
    page.locator(f"#member-{member.pk} .status-active").wait_for()
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE


def test_csv_import_with_one_bad_row(page, base_url, owner_and_list):
    owner, mailing_list = owner_and_list
    login(page, base_url, owner.username)
    page.goto(f"{base_url}/lists/{mailing_list.pk}/members/import/")
    # As Excel's "CSV" writes it on a Japanese Windows: Shift_JIS (cp932), CRLF.
    data = "メールアドレス,名前\r\nhanako.@ezweb.ne.jp,鈴木 花子\r\nこれは違う,誤り\r\njiro@example.com,佐藤 次郎\r\n"
    page.set_input_files(
        "#id_file", files=[{"name": "名簿.csv", "mimeType": "text/csv", "buffer": data.encode("cp932")}]
    )
    page.click("form.stacked button[type=submit]")
    page.locator("#import-errors").wait_for()
    assert "これは違う" in page.locator("#import-errors").inner_text()
    assert Member.objects.filter(mailing_list=mailing_list).count() == 0  # preview only
    screenshot(page, "06-import-preview")
    page.click("#import-confirm")
    page.wait_for_url(re.compile(r".*/members/$"))
    names = dict(Member.objects.filter(mailing_list=mailing_list).values_list("address", "name"))
    assert names == {"hanako.@ezweb.ne.jp": "鈴木 花子", "jiro@example.com": "佐藤 次郎"}
    assert page.get_by_role("cell", name="鈴木 花子", exact=True).is_visible()
    screenshot(page, "07-imported")


def test_list_admin_of_another_list_is_denied(page, base_url, owner_and_list):
    _owner, mailing_list = owner_and_list
    member_make(mailing_list, address="hidden@example.com")
    stranger = user_make()
    managed_list_make(admin=stranger)
    login(page, base_url, stranger.username)
    assert mailing_list.name not in page.content()  # not on their dashboard
    response = page.goto(f"{base_url}/lists/{mailing_list.pk}/members/")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "このページを開く権限がありません"
    assert "hidden@example.com" not in page.content()
    screenshot(page, "08-denied")
