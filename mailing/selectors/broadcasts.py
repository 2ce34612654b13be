"""Reads for the send history (F8): every broadcast of every channel, searchable, with delivery counts
and per-recipient status; the live progress of a fan-out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts import policy
from accounts.selectors import User
from mailing.models import Broadcast, Delivery, MailingList

# Mail from these domains came from a mobile phone's carrier mail (the history says "mail (mobile)").
MOBILE_CARRIER_DOMAINS = (
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "ymobile.ne.jp",
    "y-mobile.ne.jp",
    "rakumail.jp",
    "uqmobile.jp",
)
STATUSES = [s.value for s in Delivery.Status]


def broadcasts_visible_to(user: User) -> QuerySet[Broadcast]:
    """The broadcasts whose every list this user manages (accounts.policy.broadcast_can_view)."""
    if not user.is_authenticated:
        return Broadcast.objects.none()
    scope = policy.list_scope(user)
    if scope.every_list:
        return Broadcast.objects.all()
    return Broadcast.objects.filter(mailing_list_id__in=scope.list_ids).exclude(
        web__lists__in=MailingList.objects.exclude(pk__in=scope.list_ids)
    )


def broadcast_list_ids(broadcast_id: int) -> frozenset[int]:
    """Every list a broadcast went to (a web broadcast's lists, or a mail post's list)."""
    web_lists = MailingList.objects.filter(web_broadcasts__broadcast_id=broadcast_id).values_list("pk", flat=True)
    own = Broadcast.objects.filter(pk=broadcast_id).values_list("mailing_list_id", flat=True)
    return frozenset(web_lists) | frozenset(own)


@dataclass(frozen=True)
class HistoryFilter:
    text: str = ""
    date_from: date | None = None
    date_to: date | None = None
    list_id: int | None = None
    sender: str = ""
    channel: str = ""


def broadcasts_history(visible: QuerySet[Broadcast], query: HistoryFilter) -> QuerySet[Broadcast]:
    """The sent, sending, scheduled and cancelled broadcasts of `visible` matching the filter, newest
    first. Text matches the subject, a web broadcast's body and the
    sender (a mail post's body stays in its raw message and is not searched)."""
    broadcasts = visible.exclude(state=Broadcast.State.DRAFT).select_related("mailing_list", "author_user")
    if query.text:
        broadcasts = broadcasts.filter(Q(subject__icontains=query.text) | Q(body_text__icontains=query.text))
    if query.sender:
        broadcasts = broadcasts.filter(
            Q(author_address__icontains=query.sender) | Q(author_user__username__icontains=query.sender)
        )
    if query.list_id:
        broadcasts = broadcasts.filter(Q(mailing_list_id=query.list_id) | Q(web__lists__id=query.list_id)).distinct()
    if query.channel in Broadcast.Channel.values:
        broadcasts = broadcasts.filter(channel=query.channel)
    zone = timezone.get_current_timezone()
    if query.date_from:
        broadcasts = broadcasts.filter(created_at__gte=datetime.combine(query.date_from, time.min, tzinfo=zone))
    if query.date_to:
        broadcasts = broadcasts.filter(created_at__lte=datetime.combine(query.date_to, time.max, tzinfo=zone))
    return broadcasts.order_by("-created_at", "-id")


def delivery_counts(broadcast_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries per status of each broadcast (for one page of the history: counted after paging)."""
    counts = {broadcast_id: dict.fromkeys(STATUSES, 0) for broadcast_id in broadcast_ids}
    rows = (
        Delivery.objects.filter(broadcast_id__in=broadcast_ids)
        .values("broadcast_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["broadcast_id"]][row["status"]] = row["n"]
    return counts


def broadcast_channel_label(broadcast: Broadcast) -> str:
    if broadcast.channel == Broadcast.Channel.WEB:
        return "web"
    domain = broadcast.author_address.rpartition("@")[2].lower()
    return "mobile" if any(domain == d or domain.endswith("." + d) for d in MOBILE_CARRIER_DOMAINS) else "pc"


@dataclass(frozen=True)
class Progress:
    state: str
    total: int  # deliveries planned so far
    planning: bool  # more deliveries are still to be planned (docs/adr/0002, step 2)
    counts: dict[str, int]

    @property
    def done(self) -> int:
        return self.total - self.counts.get("queued", 0)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.state == "sent" else 0)


def broadcast_progress(*, broadcast_id: int) -> Progress:
    """Delivery counts of a broadcast now. Outcomes reach PostgreSQL once per batch (marks, docs/adr/0002):
    the bar moves in steps of up to FANOUT_BATCH_SIZE."""
    broadcast = Broadcast.objects.only("state", "recipient_count", "plan_resume_member_id").get(pk=broadcast_id)
    rows = Delivery.objects.filter(broadcast_id=broadcast_id).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(STATUSES, 0) | {row["status"]: row["n"] for row in rows}
    return Progress(
        state=broadcast.state,
        total=sum(counts.values()),
        planning=broadcast.plan_resume_member_id is not None,
        counts=counts,
    )


def broadcast_lists(broadcast: Broadcast) -> list[MailingList]:
    web_lists = list(MailingList.objects.filter(web_broadcasts__broadcast_id=broadcast.id).order_by("name"))
    return web_lists or [broadcast.mailing_list]


def broadcast_recipients(*, broadcast_id: int, status: str = "", search: str = "") -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(broadcast_id=broadcast_id).select_related("member")
    if status in STATUSES:
        deliveries = deliveries.filter(status=status)
    if search:
        deliveries = deliveries.filter(Q(address__icontains=search) | Q(member__name__icontains=search))
    return deliveries.order_by("id")
