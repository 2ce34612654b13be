"""Every page a mail links to (the URLs of mailing.urls, under /m/) keeps its token from other sites
without breaking its own POST, and is clicked in chromium by a browser test."""

from __future__ import annotations

import pytest
from django.urls import URLPattern

from mailing import urls as link_urls

# Each page with a button, and the browser test that presses it from a mail (or its link).
CLICKED_IN_CHROMIUM = {
    "mailing_moderate": "tests/browser/test_mail_link_pages.py",
    "mailing_join": "tests/browser/test_mail_link_pages.py",
    "mailing_leave": "tests/browser/test_mail_link_pages.py",
    "mailing_unsubscribe": "tests/browser/test_mail_link_pages.py",
    "mailing_read_confirmation": "tests/browser/test_broadcasts_browser.py",
    "mailing_survey_choice": "tests/browser/test_broadcasts_browser.py",
}
WITHOUT_BUTTON = {"mailing_bad_link"}  # the "not valid" page for cut or altered links
LINK_PAGE_NAMES = [pattern.name for pattern in link_urls.urlpatterns if isinstance(pattern, URLPattern)]
# A URL of each page with a token that does not exist.
BOGUS = {"token": "x" * 22, "choice_id": 1}


def test_every_link_page_is_clicked_in_a_browser_test():
    assert set(LINK_PAGE_NAMES) == set(CLICKED_IN_CHROMIUM) | WITHOUT_BUTTON, (
        "a page that mail links to needs a chromium test that presses its button (and a line here)"
    )


def _url(name: str) -> str:
    pattern = next(p for p in link_urls.urlpatterns if p.name == name)
    path = str(pattern.pattern).lstrip("^")
    for key, value in BOGUS.items():
        path = path.replace(f"<str:{key}>", str(value)).replace(f"<int:{key}>", str(value))
    return f"/m/{path}" + ("x/y/" if name in WITHOUT_BUTTON else "")


@pytest.mark.parametrize("name", LINK_PAGE_NAMES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_link_pages_send_same_origin_referrers(tenant_db, tenant_client, name, method):
    # `no-referrer` here made chromium send `Origin: null` with the page's own POST (CSRF refused it);
    # `same-origin` still never hands the URL's token to another site.
    response = getattr(tenant_client, method)(_url(name))
    assert response.status_code in {400, 404, 410}, (name, response.status_code)
    assert response["Referrer-Policy"] == "same-origin"
