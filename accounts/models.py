"""Console users' per-organization profile (lives in each organization's schema, beside auth.User)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """What the platform needs to know of a console user beyond Django's auth.User."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # Organization owners may do everything in their organization; other roles come from
    # mailing.ListAdmin (one list) and org_groups (a set of lists).
    is_owner = models.BooleanField(default=False)
    language = models.CharField(max_length=8, blank=True, default="")

    def __str__(self) -> str:
        return f"profile of {self.user}"
