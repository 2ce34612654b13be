"""Group admins (F6): a console user who administers a set of lists.

Minimal for now: the groups issue adds its own pages (moving and copying members between the lists).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class GroupAdmin(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_admin_roles")
    name = models.CharField(max_length=200, blank=True, default="")
    lists = models.ManyToManyField("mailing.MailingList", related_name="group_admins", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
