"""People with several addresses: every member row with one of their addresses carries them, and the
directory shows each person's addresses and lists, searchable."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from mailing.errors import MailingUserError
from mailing.models import Member
from mailing.selectors.people import directory_people, directory_unlinked
from mailing.services import member_import, members, people
from tests.conftest import tenant_host
from tests.factories import member_make
from tests.factories.console import managed_list_make, user_make

pytestmark = pytest.mark.usefixtures("tenant_db")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def test_a_person_collects_every_membership_of_their_addresses():
    class_list = managed_list_make(name="2年1組")
    pta = managed_list_make(name="PTA 役員")
    pc = member_make(class_list, address="hanako@example.jp")
    phone = member_make(pta, address="HANAKO..Y@docomo.ne.jp")
    person = people.person_create(
        name="山田 花子",
        note="山田 太郎 (2年1組) の母",
        addresses=[("hanako@example.jp", "PC"), ("hanako..y@docomo.ne.jp", "携帯")],
    )
    assert set(Member.objects.filter(person=person).values_list("pk", flat=True)) == {pc.pk, phone.pk}
    # Later memberships pick the person up by address: the console, a CSV import.
    added = members.member_add(mailing_list=pta, address="hanako@example.jp")
    assert added.person_id == person.pk
    other = managed_list_make()
    preview = member_import.member_import_preview(
        mailing_list=other,
        data="メールアドレス,名前\r\nhanako..Y@docomo.ne.jp,山田\r\n".encode("cp932"),
        filename="x.csv",
    )
    member_import.member_import_apply(member_import=preview)
    assert Member.objects.get(mailing_list=other).person_id == person.pk


def test_an_address_belongs_to_one_person_and_leaving_a_person_keeps_the_memberships():
    mailing_list = managed_list_make()
    member = member_make(mailing_list, address="shared@example.jp")
    mother = people.person_create(name="鈴木 母", addresses=[("shared@example.jp", "")])
    father = people.person_create(name="鈴木 父")
    with pytest.raises(MailingUserError, match="already belongs to 鈴木 母"):
        people.person_address_add(person=father, address="SHARED@example.jp")
    people.person_address_remove(person_address=mother.addresses.get())
    member.refresh_from_db()
    assert member.person_id is None
    people.person_address_add(person=father, address="shared@example.jp", label="父")
    member.refresh_from_db()
    assert member.person_id == father.pk
    people.person_delete(person=father)
    assert Member.objects.filter(pk=member.pk, person=None).exists()


def test_the_directory_finds_people_by_name_or_address_and_lists_the_rest():
    first = managed_list_make(name="1年2組")
    second = managed_list_make(name="3年1組")
    member_make(first, address="kenta@example.jp", name="高橋 健太")
    member_make(second, address="kenta@example.jp", name="高橋 健太")
    member_make(second, address="taro..yamada@docomo.ne.jp", name="山田 太郎")
    people.person_create(name="高橋 健太の父", addresses=[("kenta@example.jp", "PC")])
    _page, found = directory_people(search="健太")
    assert [entry.name for entry in found] == ["高橋 健太の父"]
    assert sorted(found[0].list_names) == ["1年2組", "3年1組"]
    _page, found = directory_people(search="KENTA@")
    assert [entry.name for entry in found] == ["高橋 健太の父"]
    _page, loose = directory_unlinked(search="docomo")
    assert [(entry.addresses[0][0], entry.list_names) for entry in loose] == [("taro..yamada@docomo.ne.jp", ["3年1組"])]


def test_the_directory_pages(tenant):
    mailing_list = managed_list_make(name="株式会社サンプル 営業本部 第二営業部")
    member_make(mailing_list, address="taro..yamada@docomo.ne.jp", name="山田 太郎")
    owner = user_make(is_owner=True)
    client = Client(HTTP_HOST=tenant_host(tenant), HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner)
    page = client.get(reverse("console:directory"), {"q": "yamada"}).content.decode()
    assert "taro..yamada@docomo.ne.jp" in page
    response = client.post(
        reverse("console:person_create"),
        {"name": "山田 太郎", "note": "", "address": "taro..yamada@docomo.ne.jp", "label": "携帯"},
    )
    detail = response["Location"]
    client.post(detail, {"form": "address", "address": "taro@example.com", "label": "PC"})
    page = client.get(detail).content.decode()
    assert "taro@example.com" in page
    assert "株式会社サンプル 営業本部 第二営業部" in page
