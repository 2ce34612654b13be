"""Reads of lists for other apps' pages (the group tree, the owner's dashboard, moving members)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Max, Q, QuerySet

from mailing.models import Broadcast, MailingList, Member


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


def broadcasts_recent(*, list_ids: Iterable[int] | None = None, limit: int = 10) -> list[Broadcast]:
    broadcasts = Broadcast.objects.select_related("mailing_list").order_by("-created_at", "-id")
    if list_ids is not None:
        broadcasts = broadcasts.filter(mailing_list_id__in=list(list_ids))
    return list(broadcasts[:limit])
