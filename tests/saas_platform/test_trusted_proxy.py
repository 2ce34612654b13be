"""Behind a reverse proxy, login rate limits count each client's address, not the proxy's: one attacker
must not lock a whole organization out of its console (allauth's trusted-proxy settings)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.conftest import TEST_PASSWORD, tenant_host
from tests.factories.console import user_make

DEPLOY_ENV = Path(__file__).resolve().parents[2] / "deploy" / "env.example"
PROXY = "10.0.0.7"  # every request reaches the web process from the proxy


def _behind_proxy(tenant, forwarded_for: str) -> Client:
    # The proxy appends the address it saw to X-Forwarded-For (nginx: $proxy_add_x_forwarded_for).
    return Client(HTTP_HOST=tenant_host(tenant), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)


def _login(client: Client, username: str, password: str) -> int:
    return client.post(reverse("account_login"), {"login": username, "password": password}).status_code


def _address() -> str:
    return f"198.51.100.{random.randint(1, 254)}"  # documentation range; random: counters outlive a run


def _deploy_setting() -> int:
    """ALLAUTH_TRUSTED_PROXY_COUNT as the settings module makes it from deploy/env.example."""
    deployed = dict(
        line.split("=", 1) for line in DEPLOY_ENV.read_text().splitlines() if "=" in line and not line.startswith("#")
    )
    env = {**os.environ, "PLATFORM_TESTING": "1", "TRUSTED_PROXY_COUNT": deployed["TRUSTED_PROXY_COUNT"]}
    code = "from saas_platform import settings; print(getattr(settings, 'ALLAUTH_TRUSTED_PROXY_COUNT', 0))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return int(result.stdout.strip())


@pytest.fixture
def behind_one_proxy(settings, tenant_db):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = _deploy_setting()
    cache.clear()
    yield tenant_db
    cache.clear()


def test_two_people_behind_the_proxy_are_limited_separately(behind_one_proxy):
    attacker_address, colleague_address = random.sample(range(1, 255), 2)
    attacker = _behind_proxy(behind_one_proxy, f"203.0.113.{attacker_address}")
    for _ in range(6):  # a different account each time: only the per-address limit (5/m) applies
        _login(attacker, user_make().username, "wrong")
    victim = user_make()
    assert _login(attacker, victim.username, TEST_PASSWORD) in {200, 429}  # the attacker is stopped
    colleague = _behind_proxy(behind_one_proxy, f"203.0.113.{colleague_address}")
    assert _login(colleague, victim.username, TEST_PASSWORD) == 302  # the colleague is not


def test_a_client_cannot_pick_its_own_address_by_sending_x_forwarded_for(behind_one_proxy):
    real = _address()
    for fake in range(6):  # the client's own header comes first; the proxy's entry is last
        _login(_behind_proxy(behind_one_proxy, f"192.0.2.{fake + 1}, {real}"), user_make().username, "wrong")
    assert _login(_behind_proxy(behind_one_proxy, f"192.0.2.99, {real}"), user_make().username, TEST_PASSWORD) in {
        200,
        429,
    }
