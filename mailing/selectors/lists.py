"""Reads of lists for the console: the lists a person manages, list admins' grants, list names."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from accounts import policy
from accounts.selectors import User
from mailing.models import ListAdmin, MailingList


def list_ids_administered_by(user: AbstractBaseUser) -> list[int]:
    """The lists this user is a list admin of (F5): mailing's source of roles for accounts.policy
    (settings.CONSOLE_LIST_ADMIN_SOURCES)."""
    return list(ListAdmin.objects.filter(user=user).values_list("mailing_list_id", flat=True))


def lists_managed_by(user: User) -> QuerySet[MailingList]:
    """The lists this user may manage, as accounts.policy decides."""
    if not user.is_authenticated:
        return MailingList.objects.none()
    scope = policy.list_scope(user)
    if scope.every_list:
        return MailingList.objects.all()
    return MailingList.objects.filter(pk__in=scope.list_ids)


def list_names() -> dict[int, str]:
    """Every list's name by id, in name order (filters and labels of organization-wide pages)."""
    return dict(MailingList.objects.order_by("name").values_list("pk", "name"))
