"""Every page a mail links to (the URLs of mailing.urls, under /m/) keeps its token from other sites
without breaking its own POST, and is clicked in chromium by a browser test."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, reverse

from mailing import urls as link_urls
from tests.browser.test_mail_link_pages import LINK_PAGES_CLICKED

LINK_PAGE_NAMES = [pattern.name for pattern in link_urls.urlpatterns if isinstance(pattern, URLPattern)]


def test_every_link_page_is_clicked_in_a_browser_test():
    assert set(LINK_PAGE_NAMES) == LINK_PAGES_CLICKED, (
        "a page that mail links to needs a chromium test in tests/browser/test_mail_link_pages.py"
    )


@pytest.mark.parametrize("name", LINK_PAGE_NAMES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_link_pages_send_same_origin_referrers(tenant_db, tenant_client, name, method):
    # `no-referrer` here made chromium send `Origin: null` with the page's own POST (CSRF refused it);
    # `same-origin` still never hands the URL's token to another site.
    response = getattr(tenant_client, method)(reverse(name, kwargs={"token": "x" * 22}))
    assert response.status_code in {400, 404}
    assert response["Referrer-Policy"] == "same-origin"
