"""Groups in a real browser (chromium): a group admin moves members from selection through preview to
result and undoes it, at desktop width and on a phone (390x844); the owner's dashboard and tree; the
public sign-up, confirmed by clicking the link of the mail caught at a real SMTP relay."""

from __future__ import annotations

import re
from email import message_from_bytes
from email import policy as email_policy

import pytest
from django_tenants.utils import schema_context

from mailing.models import Member
from org_groups.models import MemberTransfer
from tenants.models import Organization
from tests.browser.conftest import screenshot
from tests.browser.test_console_browser import login
from tests.conftest import TEST_PASSWORD
from tests.factories import member_make, unique
from tests.factories.console import group_admin_make, group_make, managed_list_make, user_make
from tests.org_groups.support import guardian_make, history_make, members_add

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def grade(committed_tenant):
    """A grade with three class lists; a teacher is its group admin."""
    tag = unique("g")
    grade = group_make(f"{tag} 2年 (株式会社サンプル学園 第二営業部 兼務)")
    lists = []
    for letter in ("1", "2", "3"):
        class_list = managed_list_make(name=f"2年{letter}組 {tag}", local_part=f"{tag}-2-{letter}")
        group_make(f"2年{letter}組", parent=grade, mailing_list=class_list)
        lists.append(class_list)
    members_add(lists[0], 24, prefix=f"{tag}.")
    guardian_make(lists[0], "山田 花子 (山田 太郎の母)", f"{tag}.hanako@example.jp", f"{tag}.hanako..y@docomo.ne.jp")
    member_make(lists[1], address=f"{tag}.hanako@example.jp", name="山田 花子")  # already in 2年2組
    history_make(lists[0], list(Member.objects.filter(mailing_list=lists[0])))
    teacher = group_admin_make(group=grade).user
    outsider = managed_list_make(name=f"職員室 {tag}")
    return {"grade": grade, "lists": lists, "teacher": teacher, "outsider": outsider, "tag": tag}


def test_a_group_admin_moves_members_through_preview_to_result_and_undoes_it(page, base_url, grade):
    source, target, _third = grade["lists"]
    login(page, base_url, grade["teacher"].username)
    page.get_by_role("link", name="メンバーの移動").first.click()
    page.wait_for_url(f"{base_url}/transfer/")
    assert grade["outsider"].name not in page.content()  # outside the subtree: not offered
    page.get_by_role("link", name=source.name).click()
    page.wait_for_url(re.compile(r".*/transfer/lists/\d+/$"))

    # By hand: the guardian's two addresses and one more member.
    rows = page.locator("#transfer-members tbody tr")
    for row in rows.filter(has_text="山田 花子").all():
        row.locator("input[name=member]").check()
    rows.filter(has_text=f"{grade['tag']}.user2@").locator("input[name=member]").check()
    assert page.get_by_label("手で選んだメンバー").is_visible()  # the labels speak Japanese
    page.check("input[name=mode][value=hand]")
    page.check("input[name=kind][value=move]")
    page.select_option("#id_target", str(target.pk))
    screenshot(page, "groups-01-select-desktop")
    page.click("#transfer-preview")
    page.wait_for_url(re.compile(r".*/transfers/\d+/$"))

    assert page.locator("#count-added").inner_text() == "2"
    assert page.locator("#count-already").inner_text() == "1"
    assert page.locator("#count-leaving").inner_text() == "3"
    assert f"{grade['tag']}.hanako@example.jp" in page.locator("#preview-already").inner_text()
    assert Member.objects.filter(mailing_list=target).count() == 1  # nothing changed yet
    screenshot(page, "groups-02-preview-desktop")

    page.click("#transfer-apply")
    page.locator("#transfer-undo").wait_for()
    transfer = MemberTransfer.objects.filter(actor=grade["teacher"]).latest("id")
    assert transfer.state == "applied"
    assert Member.objects.filter(mailing_list=target).count() == 3
    assert Member.objects.filter(mailing_list=source).count() == 23
    screenshot(page, "groups-03-result-desktop")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#transfer-undo")
    page.wait_for_load_state()
    page.locator("h1", has_text="取り消し").wait_for()
    assert Member.objects.filter(mailing_list=target).count() == 1
    assert Member.objects.filter(mailing_list=source).count() == 26
    screenshot(page, "groups-04-undone-desktop")


def test_a_move_by_filter_on_a_phone(browser, base_url, grade, console_server):
    source, _target, third = grade["lists"]
    context = browser.new_context(locale="ja-JP", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    phone = context.new_page()
    phone.set_default_timeout(10_000)
    try:
        login(phone, base_url, grade["teacher"].username)
        phone.goto(f"{base_url}/transfer/")
        screenshot(phone, "groups-05-choose-source-phone")
        phone.goto(f"{base_url}/transfer/lists/{source.pk}/")
        expected = Member.objects.filter(mailing_list=source, address__contains="docomo").count()
        phone.fill("#member-search", "docomo")
        phone.locator(f'#transfer-count[data-shown="{expected}"]').wait_for()
        phone.check("input[name=mode][value=filter]")
        phone.check("input[name=kind][value=copy]")
        phone.select_option("#id_target", str(third.pk))
        screenshot(phone, "groups-06-select-phone")
        phone.click("#transfer-preview")
        phone.wait_for_url(re.compile(r".*/transfers/\d+/$"))
        assert phone.locator("#count-added").inner_text() == str(expected)
        screenshot(phone, "groups-07-preview-phone")
        phone.click("#transfer-apply")
        phone.locator("#transfer-undo").wait_for()
        screenshot(phone, "groups-08-result-phone")
        assert Member.objects.filter(mailing_list=third).count() == expected
        assert Member.objects.filter(mailing_list=source).count() == 26  # a copy
        # Nothing on the page is wider than the phone.
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
    finally:
        context.close()


def test_the_owners_dashboard_and_tree_on_desktop_and_phone(browser, page, base_url, grade):
    owner = user_make(is_owner=True)
    login(page, base_url, owner.username)
    assert page.locator("#dashboard-tree").is_visible()
    assert grade["lists"][0].name in page.locator("#dashboard-tree").inner_text()
    screenshot(page, "groups-09-dashboard-desktop")
    page.goto(f"{base_url}/groups/")
    screenshot(page, "groups-10-tree-desktop")
    context = browser.new_context(locale="ja-JP", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        login(phone, base_url, owner.username)
        screenshot(phone, "groups-11-dashboard-phone")
        phone.goto(f"{base_url}/people/?q={grade['tag']}.hanako")
        assert f"{grade['tag']}.hanako..y@docomo.ne.jp" in phone.content()
        screenshot(phone, "groups-12-directory-phone")
    finally:
        context.close()


def test_sign_up_and_confirm_by_clicking_the_mailed_link(page, console_server, smtp_capture, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_capture.port
    slug = unique("sakura-pta")
    public = f"http://localhost:{console_server}"
    page.goto(f"{public}/")
    page.click("#signup-link")
    page.fill("#id_organization_name", "市立さくら小学校 PTA 2026年度 本部役員会")
    page.fill("#id_slug", slug)
    page.fill("#id_username", "sakura-owner")
    page.fill("#id_email", "pta.owner@example.jp")
    page.fill("#id_password", TEST_PASSWORD)
    page.fill("#id_password_again", TEST_PASSWORD)
    screenshot(page, "groups-13-signup")
    page.click("#signup-submit")
    page.locator("#signup-mail-sent").wait_for()
    assert not Organization.objects.filter(slug=slug).exists()

    mail = message_from_bytes(smtp_capture.wait_for(1)[-1].data, policy=email_policy.default)
    link = re.search(r"http://\S+/signup/confirm/\S+/", mail.get_body(preferencelist=("plain",)).get_content())[0]
    page.goto(link)
    screenshot(page, "groups-14-signup-confirm")
    page.click("#signup-confirm")
    page.locator("#signup-done").wait_for()
    organization = Organization.objects.get(slug=slug)
    page.click("#signup-login")
    page.wait_for_url(re.compile(rf"http://{slug}\.localhost:{console_server}/accounts/login/.*"))
    page.fill("input[name=login]", "sakura-owner")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"http://{slug}.localhost:{console_server}/")
    assert "市立さくら小学校 PTA 2026年度 本部役員会" in page.content()
    screenshot(page, "groups-15-signup-first-login")
    with schema_context(organization.schema_name):
        assert Member.objects.count() == 0
