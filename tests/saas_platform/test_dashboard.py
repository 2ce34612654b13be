"""The dashboard: the group tree with member counts, and the latest broadcasts with their read and
answer rates (a chart bar each)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mailing.models import Delivery, ReadConfirmation, SurveyAnswer, SurveyChoice
from tests.conftest import tenant_host
from tests.factories.console import group_admin_make, managed_list_make, user_make
from tests.factories.web_broadcasts import ATTENDANCE, web_broadcast_sent_make
from tests.org_groups.support import members_add, school_make

pytestmark = pytest.mark.usefixtures("tenant_db")


def _client(tenant, user) -> Client:
    client = Client(HTTP_HOST=tenant_host(tenant), HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_recent_broadcasts_show_read_and_answer_rates(tenant):
    mailing_list = managed_list_make(name="株式会社サンプル 営業本部 第二営業部")
    members_add(mailing_list, 5, prefix="rates.")  # the fourth is suspended: 4 recipients
    broadcast = web_broadcast_sent_make([mailing_list], read_confirmation=True, questions=[ATTENDANCE])
    deliveries = list(Delivery.objects.filter(broadcast=broadcast).order_by("id"))
    assert len(deliveries) == 4
    now = timezone.now()
    for delivery in deliveries[:2]:
        ReadConfirmation.objects.create(
            delivery=delivery, broadcast=broadcast, via_broadcast_id=broadcast.pk, confirmed_at=now
        )
    choice = SurveyChoice.objects.filter(question__survey__broadcast=broadcast).order_by("position").first()
    SurveyAnswer.objects.create(
        question_id=choice.question_id,
        delivery=deliveries[0],
        choice=choice,
        via_broadcast_id=broadcast.pk,
        answered_at=now,
    )
    page = _client(tenant, user_make(is_owner=True)).get(reverse("console:home")).content.decode()
    row = page[page.index(f'id="recent-{broadcast.pk}"') :].split("</tr>")[0]
    assert "50%" in row  # 2 of 4 confirmed
    assert "25%" in row  # 1 of 4 answered
    assert '<rect width="50"' in row


def test_the_dashboard_costs_the_same_queries_at_any_size(tenant, django_assert_max_num_queries):
    """Counts, bars and last broadcasts come from a few grouped queries, not one per list."""
    owner = user_make(is_owner=True)
    client = _client(tenant, owner)
    school_make(grades=2, classes=2, per_class=2)
    client.get(reverse("console:home"))  # warm the session and tenant lookups
    with django_assert_max_num_queries(40) as small:
        client.get(reverse("console:home"))
    school_make(grades=6, classes=4, per_class=2)
    with django_assert_max_num_queries(40) as large:
        client.get(reverse("console:home"))
    assert len(large.captured_queries) == len(small.captured_queries)


def test_a_group_admin_sees_only_their_subtree_on_the_dashboard(tenant):
    school = school_make(grades=2, classes=2, per_class=1)
    admin = group_admin_make(group=school.grades[0]).user
    page = _client(tenant, admin).get(reverse("console:home")).content.decode()
    assert school.classes[0][0].name in page
    assert school.classes[1][0].name not in page
