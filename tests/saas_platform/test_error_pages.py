"""The 404 and 403 pages say what happened, in the reader's language, and show no console."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import permission_denied

from tests.conftest import tenant_host

pytestmark = pytest.mark.django_db


def test_missing_page_on_an_organization_host_is_a_friendly_404(tenant):
    response = Client(HTTP_HOST=tenant_host(tenant), HTTP_ACCEPT_LANGUAGE="en").get("/no/such/page/")
    assert response.status_code == 404
    assert b"<h1>Page not found</h1>" in response.content
    assert b"<title>Page not found</title>" in response.content


def test_unknown_host_404_shows_no_organization():
    response = Client(HTTP_HOST="nosuch.localhost", HTTP_ACCEPT_LANGUAGE="ja").get("/")
    assert response.status_code == 404
    assert "<h1>ページが見つかりません</h1>".encode() in response.content
    assert b'class="brand" href="/"></a>' in response.content  # no organization name to show


def test_forbidden_page_explains_the_role_in_japanese():
    request = RequestFactory().get("/lists/1/")
    with translation.override("ja"):
        response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    body = response.content.decode()
    assert "<title>このページを開く権限がありません</title>" in body
    assert "<h1>このページを開く権限がありません</h1>" in body
