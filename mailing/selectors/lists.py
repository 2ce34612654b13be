"""Reads of lists: the lists a person manages, list admins' grants, list names; and for other apps'
pages (the group tree, the owner's dashboard, moving members): lists by id, member counts, broadcasts."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Q, QuerySet

from accounts import policy
from accounts.selectors import User
from mailing.models import Broadcast, ListAdmin, MailingList, Member


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


def list_get(*, list_id: int) -> MailingList | None:
    return MailingList.objects.filter(pk=list_id).first()


def lists_by_ids(*, list_ids: Iterable[int]) -> dict[int, MailingList]:
    return {mailing_list.pk: mailing_list for mailing_list in MailingList.objects.filter(pk__in=list(list_ids))}


def lists_all() -> QuerySet[MailingList]:
    return MailingList.objects.order_by("name", "id")


def list_member_counts(*, list_ids: Iterable[int] | None = None) -> dict[int, dict[str, int]]:
    """{list id: {"total": n, "active": n}} in one grouped query (the dashboard at 200 lists)."""
    members = Member.objects.all()
    if list_ids is not None:
        members = members.filter(mailing_list_id__in=list(list_ids))
    rows = members.values("mailing_list_id").annotate(
        total=Count("id"), active=Count("id", filter=Q(status=Member.Status.ACTIVE))
    )
    return {row["mailing_list_id"]: {"total": row["total"], "active": row["active"]} for row in rows}


def lists_last_broadcast(*, list_ids: Iterable[int] | None = None) -> dict[int, object]:
    """{list id: time of its latest broadcast}."""
    broadcasts = Broadcast.objects.all()
    if list_ids is not None:
        broadcasts = broadcasts.filter(mailing_list_id__in=list(list_ids))
    rows = broadcasts.values("mailing_list_id").annotate(last=Max("created_at"))
    return {row["mailing_list_id"]: row["last"] for row in rows}
