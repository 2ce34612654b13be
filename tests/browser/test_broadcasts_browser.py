"""Web broadcasts in a real browser (chromium): compose with a survey and read confirmation, the mail
arrives at the relay, its links are opened and answered in chromium, the console shows the results;
plain GETs and HEADs of every link record nothing that counts."""

from __future__ import annotations

import email
import re
from email import policy
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from mailing.models import Broadcast, Delivery, LinkVisit, ReadConfirmation, SurveyAnswer, SurveyChoice
from tests.browser.conftest import screenshot
from tests.browser.test_console_browser import login
from tests.factories import member_make, unique
from tests.factories.console import managed_list_make, user_make
from tests.factories.web_broadcasts import ATTENDANCE, web_broadcast_sent_make

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MOBILE = {"width": 390, "height": 844}


def _links(mail_data: bytes) -> tuple[str, list[str]]:
    """(read-confirmation path, survey choice paths) from a caught mail's text."""
    message = email.message_from_bytes(mail_data, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    urls = re.findall(r"https://test\.localhost/m/[rs]/\S+/", text)
    paths = [urlsplit(url).path for url in urls]
    return next(p for p in paths if p.startswith("/m/r/")), [p for p in paths if p.startswith("/m/s/")]


def _both_sizes(page, name: str) -> None:
    screenshot(page, name)
    desktop = page.viewport_size
    page.set_viewport_size(MOBILE)
    screenshot(page, f"{name}-390")
    page.set_viewport_size(desktop)


def test_compose_with_survey_and_read_confirmation_then_answer_and_confirm_in_chromium(
    page, base_url, smtp_capture, dramatiq_worker
):
    owner = user_make(is_owner=True)
    mailing_list = managed_list_make(name="株式会社サンプル 営業本部 第二営業部", admin=owner)
    carrier = member_make(mailing_list, address=f"{unique('taro')}..yamada@docomo.ne.jp", name="山田 太郎")
    member_make(mailing_list, address=f"{unique('hanako')}@example.jp", name="山田 花子（母）")
    login(page, base_url, owner.username)

    page.goto(f"{base_url}/broadcasts/new/")
    page.get_by_label(mailing_list.name).check()
    page.fill("#id_subject", "【重要】12月5日 保護者会の出欠確認")
    page.fill("#id_body_text", "保護者の皆さま\n\n12月5日（土）10時から保護者会を開きます。\n出欠をお知らせください。")
    page.check("#id_read_confirmation")
    page.click(".survey-editor summary")
    page.fill("#id_question_1", ATTENDANCE.text)
    page.fill("#id_choices_1", "\n".join(ATTENDANCE.choices))
    page.check("#id_survey_allow_comment")
    screenshot(page, "20-compose")
    page.click("#compose-preview")
    page.wait_for_url(re.compile(r".*/broadcasts/\d+/preview/$"))
    assert page.locator("#preview-subject").inner_text() == "【重要】12月5日 保護者会の出欠確認"
    assert "○ 出席" in page.locator("#preview-text").inner_text()
    _both_sizes(page, "21-preview")
    page.click("#send-now")
    page.wait_for_url(re.compile(r".*/broadcasts/\d+/$"))
    broadcast = Broadcast.objects.get(subject="【重要】12月5日 保護者会の出欠確認")

    captured = smtp_capture.wait_for(2)
    mail = next(m for m in captured if m.rcpt_tos[0] == carrier.address)
    read_path, choice_paths = _links(mail.data)
    assert len(choice_paths) == 3
    delivery = Delivery.objects.get(broadcast=broadcast, member=carrier)
    assert all(delivery.token in path for path in [read_path, *choice_paths])

    # A person opens the first choice's link: the choice is pre-selected; the button records it.
    page.goto(base_url + choice_paths[0])
    assert page.locator("input[name=choice]").nth(0).is_checked()
    assert SurveyAnswer.objects.count() == 0
    _both_sizes(page, "22-survey-link")
    page.fill("#comment", "夫婦で出席します")
    page.click("#send-answer")
    page.locator("#answered").wait_for()
    assert "○ 出席" in page.locator("#answered").inner_text()
    _both_sizes(page, "23-survey-answered")

    page.goto(f"{base_url}/broadcasts/{broadcast.pk}/survey/")
    row = page.locator(f"#answer-row-{delivery.pk}")
    assert "○ 出席" in row.inner_text()
    assert "夫婦で出席します" in row.inner_text()

    # Answering another choice overwrites: still one answer.
    page.goto(base_url + choice_paths[1])
    page.click("#send-answer")
    page.locator("#answered").wait_for()
    page.goto(f"{base_url}/broadcasts/{broadcast.pk}/survey/")
    assert "× 欠席" in page.locator(f"#answer-row-{delivery.pk}").inner_text()
    assert "○ 出席" not in page.locator(f"#answer-row-{delivery.pk}").inner_text()
    assert SurveyAnswer.objects.filter(delivery=delivery).count() == 1
    choice = SurveyChoice.objects.get(question__survey__broadcast=broadcast, label="× 欠席")
    assert page.locator(f'[data-choice="{choice.id}"]').inner_text() == "1"
    _both_sizes(page, "24-survey-results")

    # Read confirmation the same way: the page, its one button, the console.
    page.goto(base_url + read_path)
    assert ReadConfirmation.objects.count() == 0
    _both_sizes(page, "25-read-link")
    page.click("#confirm")
    page.locator("#confirmed").wait_for()
    _both_sizes(page, "26-read-confirmed")
    confirmation = ReadConfirmation.objects.get(delivery=delivery)
    assert (timezone.now() - confirmation.confirmed_at).total_seconds() < 60
    page.goto(f"{base_url}/broadcasts/{broadcast.pk}/reads/")
    row = page.locator(f"#read-{delivery.pk}")
    assert "確認済み" in row.inner_text()
    assert page.locator("#count-confirmed").inner_text() == "1"
    assert page.locator("#count-nothing").inner_text() == "1"
    _both_sizes(page, "27-read-results")
    page.goto(f"{base_url}/broadcasts/{broadcast.pk}/")
    _both_sizes(page, "28-broadcast-detail")
    page.goto(f"{base_url}/broadcasts/")
    _both_sizes(page, "29-history")


def test_two_gets_and_a_head_of_every_link_record_nothing(page, base_url, committed_tenant):
    mailing_list = managed_list_make(name="サッカー部")
    member_make(mailing_list, address=f"{unique('jiro')}@example.jp", name="佐藤 次郎")
    broadcast = web_broadcast_sent_make([mailing_list], read_confirmation=True, questions=[ATTENDANCE])
    token = Delivery.objects.get(broadcast=broadcast).token
    choices = SurveyChoice.objects.filter(question__survey__broadcast=broadcast)
    paths = [f"/m/r/{token}/"] + [f"/m/s/{token}/{choice.id}/" for choice in choices]
    for path in paths:
        assert page.goto(base_url + path).status == 200
        assert page.goto(base_url + path).status == 200
        # A HEAD from the browser itself (what some scanners send); the test's script, not the page's.
        assert page.evaluate("path => fetch(path, {method: 'HEAD'}).then(r => r.status)", path) == 200
    assert ReadConfirmation.objects.filter(broadcast=broadcast).count() == 0
    assert SurveyAnswer.objects.filter(question__survey__broadcast=broadcast).count() == 0
    visits = LinkVisit.objects.filter(delivery__broadcast=broadcast)
    assert visits.count() == 3 * len(paths)
    assert sorted(set(visits.values_list("method", flat=True))) == ["GET", "HEAD"]
