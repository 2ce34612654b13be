"""The owners' audit log in chromium (composed in the web layer; audit itself knows no list): filter by a
list with a long Japanese name, on a desktop and on a phone."""

from __future__ import annotations

import pytest

from mailing.services import members
from tests.browser.conftest import screenshot
from tests.browser.test_console_browser import login
from tests.factories import unique
from tests.factories.console import managed_list_make, user_make

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_owner_filters_the_audit_log_by_list(page, base_url, committed_tenant, viewport):
    owner = user_make(is_owner=True)
    sales = managed_list_make(name=f"有限会社ためし 総務部 第三課 経理グループ {unique('')}", admin=owner)
    other = managed_list_make(name=f"監査用 3年B組 {unique('')}", admin=owner)
    # A list whose name is longer than a phone is wide: its option must not widen the page.
    long_name = "学校法人ためし学園 中等部 第二学年 保護者会 連絡網（緊急時の連絡用）"
    managed_list_make(name=f"{unique('')} {long_name} {long_name}", admin=owner)
    members.member_add(mailing_list=sales, address="taro..yamada@docomo.ne.jp", name="山田 太郎", actor=owner)
    members.member_add(mailing_list=other, address="hanako@example.jp", name="花子", actor=owner)
    page.set_viewport_size(viewport)
    login(page, base_url, owner.username)
    page.goto(f"{base_url}/audit/")
    page.select_option("#audit-list", value=str(sales.pk))
    page.wait_for_url(f"**/audit/?*list={sales.pk}*")
    events = page.locator("#audit-events")
    events.get_by_text("taro..yamada@docomo.ne.jp").first.wait_for()
    assert "hanako@example.jp" not in events.inner_text()
    assert sales.name in events.inner_text()  # the list column names the list
    screenshot(page, f"audit-filtered-{viewport['width']}")
    # Nothing wider than the screen: on a phone the table's rows stack (stack-narrow).
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
