"""Requests are routed by Host; an unknown host is a 404, never another organization's page."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import TEST_PASSWORD, tenant_host

pytestmark = pytest.mark.django_db


def test_organization_host_serves_its_login_page(tenant):
    client = Client(HTTP_HOST=tenant_host(tenant))
    response = client.get("/", follow=True)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == "/accounts/login/"
    assert b'name="password"' in response.content


@pytest.mark.parametrize("host", ["unknown.localhost", "demo2.localhost", "example.com", "test.localhost.evil"])
def test_unknown_host_gets_404(host):
    response = Client(HTTP_HOST=host).get("/accounts/login/")
    assert response.status_code in (400, 404)  # 400: not even an allowed host name
    assert b'name="password"' not in response.content


def test_made_up_subdomain_of_the_platform_gets_404():
    response = Client(HTTP_HOST=f"nosuchorg.{settings.PLATFORM_DOMAIN}").get("/accounts/login/")
    assert response.status_code == 404


def test_platform_domain_serves_public_pages_not_a_console():
    client = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    assert client.get("/").status_code == 200
    assert client.get("/accounts/login/").status_code == 404


def test_owner_logs_in_on_own_host(tenant):
    client = Client(HTTP_HOST=tenant_host(tenant))
    response = client.post("/accounts/login/", {"login": "owner", "password": TEST_PASSWORD}, follow=True)
    assert response.status_code == 200
    assert tenant.name.encode() in response.content
