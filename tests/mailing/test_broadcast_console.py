"""The broadcast pages through the test client: compose, preview, send; the send history of both
channels with its search; the detail page; results and CSV; the progress endpoint during a
10,000-member fan-out."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from mailing.models import Broadcast, BroadcastAttachment, Delivery, ReadConfirmation, SurveyAnswer, SurveyChoice
from tests.conftest import tenant_host
from tests.factories import member_make, unique
from tests.factories.console import managed_list_make, user_make
from tests.factories.outbound import eml, mail_broadcast_make
from tests.factories.web_broadcasts import ATTENDANCE, web_broadcast_draft_make, web_broadcast_sent_make
from tests.mailing.outbound_support import members_bulk_make


@pytest.fixture
def owner_client(tenant_db):
    owner = user_make(is_owner=True)
    client = Client(HTTP_HOST=tenant_host(tenant_db))
    client.force_login(owner)
    return client


def test_compose_preview_and_send_to_two_lists(owner_client, settings):
    grade = managed_list_make(name="2年 保護者")
    club = managed_list_make(name="吹奏楽部")
    shared = f"{unique('taro')}..yamada@docomo.ne.jp"
    member_make(grade, address=shared, name="山田 太郎")
    member_make(club, address=shared, name="山田 太郎")
    member_make(club, address=f"{unique('hanako')}@example.jp")
    response = owner_client.post(
        "/broadcasts/new/",
        {
            "lists": [grade.pk, club.pk],
            "subject": "合同練習のお知らせ",
            "body_text": "土曜日に合同練習をします。",
            "read_confirmation": "on",
            "question_1": "参加しますか？",
            "choices_1": "○ 参加\n× 不参加\n",
            "attachments": [SimpleUploadedFile("地図.png", b"\x89PNG" + b"0" * 100, content_type="image/png")],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    broadcast = Broadcast.objects.get(subject="合同練習のお知らせ")
    assert broadcast.state == Broadcast.State.DRAFT
    assert response["Location"] == f"/broadcasts/{broadcast.pk}/preview/"
    page = owner_client.get(response["Location"]).content.decode()
    assert 'id="recipient-count">2 ' in page  # one copy for the address on both lists
    assert "合同練習のお知らせ" in page
    assert "/m/r/PREVIEW/" in page
    assert "地図.png" in page
    assert owner_client.post(f"/broadcasts/{broadcast.pk}/send/").status_code == 302
    broadcast.refresh_from_db()
    assert broadcast.state in {Broadcast.State.SENDING, Broadcast.State.SENT}
    assert Delivery.objects.filter(broadcast=broadcast).count() == 2


def test_attachments_over_the_limit_are_refused_with_a_clear_error(owner_client, settings):
    settings.BROADCAST_ATTACHMENTS_MAX_BYTES = 1000
    mailing_list = managed_list_make()
    page = owner_client.get("/broadcasts/new/").content.decode()
    assert 'data-max-bytes="1000"' in page
    assert "0.001 MB" in page  # the limit is shown before anything is uploaded
    response = owner_client.post(
        "/broadcasts/new/",
        {
            "lists": [mailing_list.pk],
            "subject": "大きな添付",
            "body_text": "本文",
            "attachments": [SimpleUploadedFile("big.pdf", b"x" * 2000, content_type="application/pdf")],
        },
    )
    assert response.status_code == 200
    assert "0.001 MB" in response.content.decode()
    assert not Broadcast.objects.filter(subject="大きな添付").exists()
    assert not BroadcastAttachment.objects.exists()


def test_history_lists_mail_and_web_broadcasts_and_searches(owner_client):
    mailing_list = managed_list_make(name="営業部")
    member_make(mailing_list)
    mail = mail_broadcast_make(mailing_list, raw=eml("post_multipart_japanese.eml"), author_address="taro@docomo.ne.jp")
    web = web_broadcast_sent_make([mailing_list], subject="年末の営業日")
    page = owner_client.get("/broadcasts/").content.decode()
    assert f"/broadcasts/{mail.pk}/" in page
    assert f"/broadcasts/{web.pk}/" in page
    assert "来週の予定について" in page
    assert len(re.findall(r'class="history-row" data-channel="(mail|web)"', page)) >= 2
    found = owner_client.get("/broadcasts/", {"q": "営業日"}).content.decode()
    assert f"/broadcasts/{web.pk}/" in found
    assert f"/broadcasts/{mail.pk}/" not in found
    by_sender = owner_client.get("/broadcasts/", {"sender": "docomo"}).content.decode()
    assert f"/broadcasts/{mail.pk}/" in by_sender
    assert f"/broadcasts/{web.pk}/" not in by_sender
    by_channel = owner_client.get("/broadcasts/", {"channel": "web", "list": mailing_list.pk}).content.decode()
    assert f"/broadcasts/{web.pk}/" in by_channel
    assert f"/broadcasts/{mail.pk}/" not in by_channel
    by_date = owner_client.get("/broadcasts/", {"date_from": "2000-01-01", "date_to": "2000-01-02"}).content.decode()
    assert f"/broadcasts/{web.pk}/" not in by_date
    detail = owner_client.get(f"/broadcasts/{mail.pk}/").content.decode()
    assert "taro@docomo.ne.jp" in detail
    assert "予定表.bin" in detail  # the post's attachment, read from the stored message


def test_results_pages_and_csv(owner_client):
    mailing_list = managed_list_make(name="1年3組")
    for name in ("山田 太郎", "鈴木 花子", "=cmd|' /C calc'!A0"):
        member_make(mailing_list, name=name)
    broadcast = web_broadcast_sent_make([mailing_list], read_confirmation=True, questions=[ATTENDANCE])
    deliveries = list(Delivery.objects.filter(broadcast=broadcast).order_by("id"))
    link_client = Client(HTTP_HOST=owner_client.defaults["HTTP_HOST"])
    link_client.post(f"/m/r/{deliveries[0].token}/")
    link_client.get(f"/m/r/{deliveries[1].token}/")
    choice = SurveyChoice.objects.filter(question__survey__broadcast=broadcast).first()
    link_client.post(f"/m/s/{deliveries[0].token}/{choice.id}/", {"choice": choice.id})
    assert ReadConfirmation.objects.count() == 1
    assert SurveyAnswer.objects.count() == 1

    reads = owner_client.get(f"/broadcasts/{broadcast.pk}/reads/").content.decode()
    assert re.search(r'id="count-confirmed">1<', reads)
    assert re.search(r'id="count-opened">1<', reads)
    assert re.search(r'id="count-nothing">1<', reads)
    assert "<svg" in reads
    assert "<script" not in reads.split("<main", 1)[1]
    csv_text = b"".join(owner_client.get(f"/broadcasts/{broadcast.pk}/reads.csv").streaming_content).decode("utf-8")
    assert csv_text.startswith("\ufeff")
    assert "'=cmd" in csv_text  # no formula runs in Excel
    survey = owner_client.get(f"/broadcasts/{broadcast.pk}/survey/").content.decode()
    assert f'data-choice="{choice.id}">1<' in survey
    missing = owner_client.get(f"/broadcasts/{broadcast.pk}/survey/", {"show": "missing"}).content.decode()
    assert deliveries[0].address not in missing
    assert deliveries[1].address in missing
    survey_csv = b"".join(owner_client.get(f"/broadcasts/{broadcast.pk}/survey.csv").streaming_content).decode()
    assert choice.label in survey_csv
    response = owner_client.post(f"/broadcasts/{broadcast.pk}/follow-up/", {"kind": "survey_reminder"})
    reminder = Broadcast.objects.get(web__follow_up_of=broadcast)
    assert response["Location"] == f"/broadcasts/{reminder.pk}/preview/"
    assert 'id="recipient-count">2 ' in owner_client.get(response["Location"]).content.decode()


@pytest.mark.slow
def test_progress_moves_during_a_10000_member_fanout(committed_tenant, smtp_capture, dramatiq_worker, dramatiq_broker):
    owner = user_make(is_owner=True)
    client = Client(HTTP_HOST=tenant_host(committed_tenant))
    client.force_login(owner)
    mailing_list = managed_list_make(name="全校 保護者")
    members_bulk_make(mailing_list, 10_000, prefix=unique("p"))
    broadcast = web_broadcast_sent_make([mailing_list], read_confirmation=True)
    seen: list[int] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        fragment = client.get(f"/broadcasts/{broadcast.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
        done = int(re.search(r'data-done="(\d+)"', fragment).group(1))
        if not seen or done != seen[-1]:
            seen.append(done)
        if 'hx-trigger="every 1s"' not in fragment:  # the fan-out ended: the bar stops polling
            break
        time.sleep(0.25)
    assert seen[-1] == 10_000
    assert seen == sorted(seen)
    assert len([value for value in seen if 0 < value < 10_000]) >= 3, seen
    dramatiq_broker.join("delivery", timeout=60_000)


def test_discarding_a_draft_deletes_it_and_cancelling_a_scheduled_one_keeps_it(owner_client):
    mailing_list = managed_list_make()
    member_make(mailing_list)
    draft = web_broadcast_draft_make([mailing_list], subject="下書き")
    assert owner_client.post(f"/broadcasts/{draft.pk}/cancel/")["Location"] == "/broadcasts/"
    assert not Broadcast.objects.filter(pk=draft.pk).exists()
    scheduled = web_broadcast_draft_make([mailing_list], subject="予約")
    at = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert owner_client.post(f"/broadcasts/{scheduled.pk}/schedule/", {"at": at}).status_code == 302
    scheduled.refresh_from_db()
    assert scheduled.state == Broadcast.State.SCHEDULED
    assert f"/broadcasts/{scheduled.pk}/preview/" in owner_client.get("/broadcasts/scheduled/").content.decode()
    owner_client.post(f"/broadcasts/{scheduled.pk}/cancel/")
    scheduled.refresh_from_db()
    assert scheduled.state == Broadcast.State.CANCELLED
    assert "予約" in owner_client.get("/broadcasts/").content.decode()
