"""Template context for the console's navigation: what the person may open (asked lazily, so a page
that does not show the navigation costs no query)."""

from __future__ import annotations

from django.http import HttpRequest

from accounts import policy


def console_roles(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "console_can_transfer": lambda: policy.transfer_can_use(user),
    }
