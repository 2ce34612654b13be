"""Browser tests: Playwright driving Debian's chromium against the app served on 127.0.0.1.

The server is pytest-django's LiveServer (a threaded WSGI server in this process) made directly
rather than through the `live_server` fixture: that fixture forces `transactional_db`, whose flush
would truncate the public schema and with it the session's organizations. Tests use
`committed_tenant` and unique names instead (tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.conftest import tenant_host

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def console_server(django_db_setup) -> Iterator[str]:
    # The server's request threads must not keep persistent connections (CONN_MAX_AGE): they would
    # outlive the threads and keep the test database from being dropped at the end of the session.
    for settings_dict in (settings.DATABASES["default"], connections.settings["default"]):
        settings_dict["CONN_MAX_AGE"] = 0
    server = LiveServer("127.0.0.1:0")
    try:
        yield f"{server.thread.port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(django_db_setup) -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run browser tests")

    # Playwright's sync API keeps an asyncio loop on this thread; Django then refuses ORM calls
    # from the test body unless told that this (synchronous, single-threaded test) use is safe.
    # Only while the browser runs: subprocesses started by later tests (`check --deploy`) inherit it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _browser_run(sync_playwright)
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _browser_run(sync_playwright) -> Iterator:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, committed_tenant, console_server) -> Iterator:
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
    # With Playwright's loop on this thread, the test body's ORM calls ran on a connection of their
    # own context; close it, or it keeps the test database from being dropped at the end.
    connections.close_all()


@pytest.fixture
def base_url(committed_tenant, console_server) -> str:
    return f"http://{tenant_host(committed_tenant)}:{console_server}"


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
