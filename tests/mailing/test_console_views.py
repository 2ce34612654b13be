"""Console member pages through HTTP: the table's search and filter, export of what is shown, bulk."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mailing.models import MailingList, Member
from mailing.services import member_import
from tests.conftest import tenant_host
from tests.factories import member_make, unique
from tests.factories.console import managed_list_make, user_make


@pytest.fixture
def owner_client(tenant_db) -> Client:
    client = Client(HTTP_HOST=tenant_host(tenant_db))
    client.force_login(user_make(is_owner=True))
    return client


def test_export_contains_exactly_the_filtered_members_with_bom(owner_client):
    mailing_list = managed_list_make()
    member_make(mailing_list, address="a@docomo.ne.jp", name="山田 太郎")
    member_make(mailing_list, address="b@docomo.ne.jp", name="佐藤", status="suspended")
    member_make(mailing_list, address="c@example.com", name="鈴木")
    url = reverse("console:member_export", kwargs={"list_id": mailing_list.pk})
    response = owner_client.get(url, {"q": "docomo", "status": "active"})
    body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "a@docomo.ne.jp,山田 太郎,active" in text
    assert "b@docomo.ne.jp" not in text
    assert "c@example.com" not in text


def test_table_partial_for_htmx_searches_and_pages(owner_client):
    mailing_list = managed_list_make()
    for n in range(60):
        member_make(mailing_list, address=f"m{n:02d}@example.com")
    url = reverse("console:member_list", kwargs={"list_id": mailing_list.pk})
    first = owner_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in first  # a partial for the swap
    assert "m00@example.com" in first
    assert "m55@example.com" not in first  # 50 a page
    second = owner_client.get(url, {"page": 2}, HTTP_HX_REQUEST="true").content.decode()
    assert "m55@example.com" in second
    found = owner_client.get(url, {"q": "m42"}, HTTP_HX_REQUEST="true").content.decode()
    assert "m42@example.com" in found
    assert "m41@example.com" not in found


def test_bulk_suspend_through_htmx(owner_client):
    mailing_list = managed_list_make()
    chosen = [member_make(mailing_list) for _ in range(2)]
    other = member_make(mailing_list)
    url = reverse("console:member_bulk", kwargs={"list_id": mailing_list.pk})
    response = owner_client.post(
        url, {"member": [m.pk for m in chosen], "bulk_action": "suspend"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert set(Member.objects.filter(pk__in=[m.pk for m in chosen]).values_list("status", flat=True)) == {"suspended"}
    other.refresh_from_db()
    assert other.status == "active"


def test_removing_the_last_sender_in_the_console_shows_a_clear_message(owner_client):
    mailing_list = managed_list_make()
    sender = mailing_list.senders.get()
    url = reverse("console:sender_delete", kwargs={"list_id": mailing_list.pk, "sender_id": sender.pk})
    response = owner_client.post(url, follow=True)
    assert "唯一の送信者のため削除できません" in response.content.decode()
    assert mailing_list.senders.count() == 1


def test_large_import_page_polls_progress_until_done(owner_client):
    mailing_list = managed_list_make()
    rows = [f"p{n}@example.com" for n in range(member_import.IMPORT_IN_REQUEST_MAX + 1)]
    preview = member_import.member_import_preview(
        mailing_list=mailing_list, data="\n".join(rows).encode(), filename="big.csv"
    )
    url = reverse("console:member_import_preview", kwargs={"list_id": mailing_list.pk, "import_id": preview.pk})
    response = owner_client.post(url)
    assert response.status_code == 302  # queued for the worker (this test's transaction never commits)
    preview.refresh_from_db()
    assert preview.state == "queued"
    progress_url = reverse(
        "console:member_import_progress", kwargs={"list_id": mailing_list.pk, "import_id": preview.pk}
    )
    polling = owner_client.get(progress_url).content.decode()
    assert 'hx-trigger="every 1s"' in polling
    assert "<progress" in polling
    preview.state, preview.imported_count = "applied", preview.valid_rows
    preview.save()
    done = owner_client.get(progress_url).content.decode()
    assert "every 1s" not in done  # polling stops
    assert reverse("console:member_list", kwargs={"list_id": mailing_list.pk}) in done


def test_owner_creates_edits_and_deletes_a_list_through_the_pages(owner_client):
    local = unique("pta")
    response = owner_client.post(
        reverse("console:list_create"),
        {"name": "PTA", "local_part": local, "sender_address": "taro..yamada@docomo.ne.jp", "subject_tag": "[PTA]"},
    )
    created = MailingList.objects.get(local_part=local)
    assert response["Location"] == reverse("console:list_detail", kwargs={"list_id": created.pk})
    assert created.admins.count() == 1
    assert list(created.senders.values_list("address", flat=True)) == ["taro..yamada@docomo.ne.jp"]
    owner_client.post(
        reverse("console:list_edit", kwargs={"list_id": created.pk}),
        {"name": "PTA 2", "local_part": local, "join_requires_confirmation": "on"},
    )
    created.refresh_from_db()
    assert (created.name, created.join_requires_confirmation, created.subject_tag) == ("PTA 2", True, "")
    delete_url = reverse("console:list_delete", kwargs={"list_id": created.pk})
    wrong = owner_client.post(delete_url, {"confirmation": "nope"})
    assert wrong.status_code == 200
    assert MailingList.objects.filter(pk=created.pk).exists()
    owner_client.post(delete_url, {"confirmation": local})
    assert not MailingList.objects.filter(pk=created.pk).exists()
