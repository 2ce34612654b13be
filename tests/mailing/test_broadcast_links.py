"""Read-confirmation and survey links: GET and HEAD record nothing that counts, the POST does; one
answer per recipient per question; every bad token looks the same; another organization's tokens
do nothing; links expire after the retention period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from mailing.models import Delivery, LinkVisit, ReadConfirmation, SurveyAnswer, SurveyChoice, WebBroadcast
from mailing.services.web_broadcasts import web_broadcast_follow_up_create, web_broadcast_send_now
from tests.conftest import tenant_host
from tests.factories import mailing_list_make, member_make, unique
from tests.factories.web_broadcasts import ATTENDANCE, web_broadcast_draft_make, web_broadcast_sent_make

UA_SCANNER = "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0) SafeLinks"


@pytest.fixture
def sent(tenant_db):
    mailing_list = mailing_list_make(name="2年1組 保護者")
    member_make(mailing_list, address=f"{unique('taro')}..yamada@docomo.ne.jp", name="山田 太郎")
    member_make(mailing_list, address=f"{unique('hanako')}@example.jp", name="鈴木 花子")
    broadcast = web_broadcast_sent_make(
        [mailing_list], read_confirmation=True, questions=[ATTENDANCE], survey_allow_comment=True
    )
    deliveries = list(Delivery.objects.filter(broadcast=broadcast).order_by("id"))
    Delivery.objects.filter(broadcast=broadcast).update(status="sent", sent_at=timezone.now() - timedelta(seconds=30))
    choices = list(SurveyChoice.objects.filter(question__survey__broadcast=broadcast).order_by("position"))
    return broadcast, deliveries, choices


def _client(organization) -> Client:
    return Client(HTTP_HOST=tenant_host(organization), HTTP_USER_AGENT=UA_SCANNER, REMOTE_ADDR="203.0.113.77")


def test_get_and_head_of_every_link_log_visits_but_record_nothing(tenant_db, sent):
    _, deliveries, choices = sent
    client = _client(tenant_db)
    token = deliveries[0].token
    links = [f"/m/r/{token}/"] + [f"/m/s/{token}/{choice.id}/" for choice in choices]
    for url in links:
        for method in (client.get, client.get, client.head):
            response = method(url)
            assert response.status_code == 200
            assert response["Referrer-Policy"] == "same-origin"
            assert "no-store" in response["Cache-Control"]
    assert ReadConfirmation.objects.count() == 0
    assert SurveyAnswer.objects.count() == 0
    visits = LinkVisit.objects.filter(delivery=deliveries[0])
    assert visits.count() == 3 * len(links)
    assert set(visits.values_list("method", flat=True)) == {"GET", "HEAD"}
    visit = visits.filter(kind="read").first()
    assert visit.network == "203.0.113.0/24"
    assert visit.user_agent == UA_SCANNER
    assert 25 <= visit.seconds_since_delivery <= 300
    page = client.get(links[1]).content.decode()
    assert "<script" not in page
    assert f'value="{choices[0].id}" checked' in page


def test_post_confirms_once_and_keeps_the_first_time(tenant_db, sent):
    broadcast, deliveries, _ = sent
    client = _client(tenant_db)
    url = f"/m/r/{deliveries[1].token}/"
    response = client.post(url)
    assert response.status_code == 302
    first = ReadConfirmation.objects.get(delivery=deliveries[1])
    assert first.broadcast_id == broadcast.id
    client.post(url)
    assert ReadConfirmation.objects.count() == 1
    assert ReadConfirmation.objects.get().confirmed_at == first.confirmed_at
    assert 'id="confirmed"' in client.get(url).content.decode()


def test_answering_again_overwrites_one_answer_per_question(tenant_db, sent):
    _, deliveries, choices = sent
    client = _client(tenant_db)
    token = deliveries[0].token
    client.post(f"/m/s/{token}/{choices[0].id}/", {"choice": choices[0].id, "comment": "夫婦で参加します"})
    client.post(f"/m/s/{token}/{choices[1].id}/", {"choice": choices[1].id})
    [answer] = SurveyAnswer.objects.filter(delivery=deliveries[0])
    assert answer.choice_id == choices[1].id
    assert answer.comment == ""
    # The database itself refuses a second answer row.
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyAnswer.objects.create(
            question=answer.question,
            delivery=answer.delivery,
            choice=choices[2],
            via_broadcast_id=answer.via_broadcast_id,
            answered_at=timezone.now(),
        )


def test_a_choice_of_another_question_cannot_be_posted(tenant_db, sent):
    _, deliveries, choices = sent
    other = web_broadcast_sent_make([mailing_list_make()], questions=[ATTENDANCE])
    foreign = SurveyChoice.objects.filter(question__survey__broadcast=other).first()
    client = _client(tenant_db)
    response = client.post(f"/m/s/{deliveries[0].token}/{choices[0].id}/", {"choice": foreign.id})
    assert response.status_code == 200
    assert SurveyAnswer.objects.count() == 0
    assert client.get(f"/m/s/{deliveries[0].token}/{foreign.id}/").status_code == 404


def test_after_the_deadline_answers_are_closed(tenant_db, sent):
    broadcast, deliveries, choices = sent
    broadcast.survey.deadline = timezone.now() - timedelta(minutes=1)
    broadcast.survey.save()
    client = _client(tenant_db)
    url = f"/m/s/{deliveries[0].token}/{choices[0].id}/"
    page = client.get(url).content.decode()
    assert 'id="closed"' in page
    assert 'id="send-answer"' not in page
    client.post(url, {"choice": choices[0].id})
    assert SurveyAnswer.objects.count() == 0


def test_every_bad_token_gets_the_same_answer(tenant_db, other_tenant, sent):
    _, deliveries, choices = sent
    token = deliveries[0].token
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    client = _client(tenant_db)
    bad = [tampered, "x" * 24, "short", "a" * 200, "..%2F..%2Fetc", "PREVIEW"]
    pages = {client.get(f"/m/r/{t}/").content for t in bad}
    pages |= {client.get(f"/m/s/{t}/{choices[0].id}/").content for t in bad}
    pages.add(client.get(f"/m/s/{token}/999999999/").content)
    assert len(pages) == 1
    assert all(client.get(f"/m/r/{t}/").status_code == 404 for t in bad)
    assert all(client.post(f"/m/r/{t}/").status_code == 404 for t in bad)
    # Another organization's host: the same token does nothing there and answers the same page.
    other = _client(other_tenant)
    response = other.get(f"/m/r/{token}/")
    assert response.status_code == 404
    assert (
        response.content in pages
        or response.content.replace(other_tenant.name.encode(), tenant_db.name.encode()) in pages
    )
    assert other.post(f"/m/r/{token}/").status_code == 404
    connection.set_tenant(tenant_db)
    assert ReadConfirmation.objects.count() == 0


def test_links_work_after_the_broadcast_until_the_retention_period(tenant_db, sent, settings):
    broadcast, deliveries, _ = sent
    settings.BROADCAST_LINK_RETENTION_DAYS = 30
    client = _client(tenant_db)
    broadcast.started_at = timezone.now() - timedelta(days=29)
    broadcast.save(update_fields=["started_at"])
    assert client.get(f"/m/r/{deliveries[0].token}/").status_code == 200
    broadcast.started_at = timezone.now() - timedelta(days=31)
    broadcast.save(update_fields=["started_at"])
    assert client.get(f"/m/r/{deliveries[0].token}/").status_code == 410
    assert client.post(f"/m/r/{deliveries[0].token}/").status_code == 410
    assert ReadConfirmation.objects.count() == 0


def test_a_follow_ups_link_counts_for_the_first_broadcast(tenant_db, sent):
    broadcast, deliveries, choices = sent
    ReadConfirmation.objects.create(
        delivery=deliveries[0], broadcast=broadcast, via_broadcast_id=broadcast.id, confirmed_at=timezone.now()
    )
    follow_up = web_broadcast_follow_up_create(broadcast=broadcast, kind=WebBroadcast.FollowUp.UNCONFIRMED, actor=None)
    web_broadcast_send_now(broadcast=follow_up, actor=None)
    [resent] = Delivery.objects.filter(broadcast=follow_up)
    assert resent.member_id == deliveries[1].member_id  # only the one who had not confirmed
    client = _client(tenant_db)
    client.post(f"/m/r/{resent.token}/")
    confirmation = ReadConfirmation.objects.get(delivery=deliveries[1])
    assert confirmation.broadcast_id == broadcast.id
    assert confirmation.via_broadcast_id == follow_up.id
    client.post(f"/m/s/{resent.token}/{choices[2].id}/", {"choice": choices[2].id})
    assert SurveyAnswer.objects.get().delivery_id == deliveries[1].id


def test_survey_reminder_goes_to_those_who_have_not_answered(tenant_db, sent):
    broadcast, deliveries, choices = sent
    _client(tenant_db).post(f"/m/s/{deliveries[0].token}/{choices[0].id}/", {"choice": choices[0].id})
    reminder = web_broadcast_follow_up_create(
        broadcast=broadcast, kind=WebBroadcast.FollowUp.SURVEY_REMINDER, actor=None
    )
    web_broadcast_send_now(broadcast=reminder, actor=None)
    assert list(Delivery.objects.filter(broadcast=reminder).values_list("member_id", flat=True)) == [
        deliveries[1].member_id
    ]


def test_a_draft_has_no_live_links(tenant_db):
    draft = web_broadcast_draft_make([mailing_list_make()], read_confirmation=True)
    assert not Delivery.objects.filter(broadcast=draft).exists()
    with schema_context(tenant_db.schema_name):
        assert _client(tenant_db).get("/m/r/PREVIEW/").status_code == 404


def _statements(queries) -> list[str]:
    return [q["sql"][:80] for q in queries if not q["sql"].startswith("SET search_path")]


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_confirm_and_answer_posts_are_one_indexed_write_each(tenant_db, sent):
    _, deliveries, choices = sent
    client = _client(tenant_db)
    with CaptureQueriesContext(connection) as confirm:
        client.post(f"/m/r/{deliveries[0].token}/")
    with CaptureQueriesContext(connection) as answer:
        client.post(f"/m/s/{deliveries[0].token}/{choices[0].id}/", {"choice": choices[0].id})
    [confirm_write] = _writes(confirm.captured_queries)
    assert "ON CONFLICT" in confirm_write
    [answer_write] = _writes(answer.captured_queries)
    assert "ON CONFLICT" in answer_write
    # Besides django-tenants' `SET search_path`: the host's domain, the token, (the choice), the write.
    assert len(_statements(confirm.captured_queries)) == 3, _statements(confirm.captured_queries)
    assert len(_statements(answer.captured_queries)) == 4, _statements(answer.captured_queries)


def test_unsubscribe_page_of_a_broadcast_to_two_lists_names_the_recipients_own_list(tenant_db):
    first, second = mailing_list_make(name="1年1組"), mailing_list_make(name="吹奏楽部 保護者会")
    member_make(first)
    only_second = member_make(second, address=f"{unique('jiro')}@example.jp")
    broadcast = web_broadcast_sent_make([first, second])
    delivery = Delivery.objects.get(broadcast=broadcast, member=only_second)
    page = _client(tenant_db).get(f"/m/unsubscribe/{delivery.token}/").content.decode()
    assert "吹奏楽部 保護者会" in page
    assert "1年1組" not in page
