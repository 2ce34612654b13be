"""Lists, members, senders, admins, inbound messages, broadcasts and deliveries.

All of these live in each organization's own schema.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def address_normalize(address: str) -> str:
    """The key under which an address is unique and looked up.

    The address itself is stored exactly as given: Japanese carrier addresses such as
    `taro..yamada@docomo.ne.jp` break RFC 5322 but are real and must be delivered as they are.
    Comparison folds case (domains are case-insensitive and no mail system we serve treats local
    parts as case-sensitive).
    """
    return address.strip().lower()


class MailingList(models.Model):
    """One list per group (department, class, grade), with its addresses under the organization's domain."""

    name = models.CharField(max_length=200)
    # LIST in LIST@org-domain, LIST-join@, LIST-leave@, LIST-bounces+TOKEN@.
    local_part = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True, default="")
    subject_tag = models.CharField(max_length=64, blank=True, default="")
    # F3: a join needs confirmation (reply or link). Always needed when the join mail is unauthenticated.
    join_requires_confirmation = models.BooleanField(default=False)
    # Posts from registered senders must be authenticated (SPF/DKIM aligned) even when their
    # domain publishes no DMARC policy.
    posts_require_authentication = models.BooleanField(default=False)
    # A read-only archive (e.g. last year's leaving grade, kept by the yearly rollover): its members
    # stay readable, but it takes no mail (its address is refused at RCPT) and no member changes.
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.local_part


class Person(models.Model):
    """Somebody with one or more addresses (PC, phone, each guardian), possibly on several lists.

    Which addresses are theirs is kept in PersonAddress (an address belongs to at most one person in
    an organization); every Member row with such an address carries the person, so moving or copying
    a member carries the person along.
    """

    name = models.CharField(max_length=200)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["name", "id"], name="person_name")]

    def __str__(self) -> str:
        return self.name


class PersonAddress(models.Model):
    """One address of a person, with what it is (PC, phone, mother, father...)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="addresses")
    address = models.CharField(max_length=254)
    address_normalized = models.CharField(max_length=254, unique=True)
    label = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.address


class Member(models.Model):
    """A recipient of a list (F4)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended")  # 配信停止 by an admin
        BOUNCING = "bouncing", _("bouncing")  # suspended by bounce handling

    class Source(models.TextChoices):
        CONSOLE = "console", _("console")
        IMPORT = "import", _("import")
        JOIN = "join", _("join")  # an empty mail to LIST-join@

    mailing_list = models.ForeignKey(MailingList, on_delete=models.CASCADE, related_name="members")
    address = models.CharField(max_length=254)
    address_normalized = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CONSOLE)
    bounce_score = models.PositiveIntegerField(default=0)
    # Set from PersonAddress by the member services whenever the address is a person's.
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailing_list", "address_normalized"], name="member_unique_address"),
        ]
        indexes = [
            models.Index(fields=["mailing_list", "status", "id"], name="member_list_status"),
            models.Index(fields=["mailing_list", "created_at"], name="member_list_created"),
            # The console's member table (F4) sorts by name at 50,000 members. Substring search gets
            # trigram GIN indexes where PostgreSQL has pg_trgm (migration mailing 0002; not in Meta
            # because the embedded development PostgreSQL lacks the extension).
            models.Index(fields=["mailing_list", "name", "id"], name="member_list_name"),
            # The organization-wide directory finds every list an address is on.
            models.Index(fields=["address_normalized"], name="member_address"),
        ]

    def __str__(self) -> str:
        return self.address


class Sender(models.Model):
    """A registered sender address of a list (F2, F5). One person may register several addresses."""

    mailing_list = models.ForeignKey(MailingList, on_delete=models.CASCADE, related_name="senders")
    address = models.CharField(max_length=254)
    address_normalized = models.CharField(max_length=254)
    person_name = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailing_list", "address_normalized"], name="sender_unique_address"),
        ]

    def __str__(self) -> str:
        return self.address


class ListAdmin(models.Model):
    """A console user who administers one list (F5)."""

    mailing_list = models.ForeignKey(MailingList, on_delete=models.CASCADE, related_name="admins")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="list_admin_roles")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailing_list", "user"], name="list_admin_unique")]


class InboundMessage(models.Model):
    """A message accepted by the MX: raw bytes and envelope, stored before the 250 reply.

    `state` doubles as the transactional outbox: a RECEIVED row older than a minute was never picked
    up by a worker (a crash between commit and enqueue) and the sweeper enqueues it again.
    """

    class Kind(models.TextChoices):
        POST = "post", _("post")
        JOIN = "join", _("join")
        LEAVE = "leave", _("leave")
        BOUNCE = "bounce", _("bounce")
        POSTMASTER = "postmaster", _("postmaster")

    class State(models.TextChoices):
        RECEIVED = "received", _("received")
        DISTRIBUTED = "distributed", _("distributed")
        HELD = "held", _("held")  # waiting for a moderator
        REJECTED = "rejected", _("rejected")
        DISCARDED = "discarded", _("discarded")  # loops, auto-replies: dropped on purpose, kept for the record
        DONE = "done", _("done")  # join, leave, bounce, postmaster handled
        QUARANTINED = "quarantined", _("quarantined")  # processing kept crashing

    kind = models.CharField(max_length=16, choices=Kind.choices)
    mailing_list = models.ForeignKey(
        MailingList, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    envelope_from = models.CharField(max_length=512, blank=True, default="")  # "" is the null sender <>
    envelope_to = models.CharField(max_length=512)
    peer_address = models.GenericIPAddressField(null=True, blank=True)
    helo = models.CharField(max_length=255, blank=True, default="")
    raw = models.BinaryField()
    size = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED)
    # Every decision with its reasons: [{"rule": ..., "result": ..., "reason": ...}, ...]
    decision_reasons = models.JSONField(default=list, blank=True)
    processing_attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # `raw` is emptied INBOUND_RETENTION_DAYS after receipt (mailing.services.inbound.retention); the
    # row, its envelope and its decision stay.
    payload_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "received_at"], name="inbound_state_received")]


class Broadcast(models.Model):
    """One distribution of content to a list's members, from mail or the web console (F7, F8)."""

    class Channel(models.TextChoices):
        MAIL = "mail", _("mail")
        WEB = "web", _("web")

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")  # a web broadcast being composed (previewed, not sent or scheduled yet)
        SCHEDULED = "scheduled", _("scheduled")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        CANCELLED = "cancelled", _("cancelled")
        FAILED = "failed", _("failed")  # its copies could not be made (failure_reason says why); never retried

    mailing_list = models.ForeignKey(MailingList, on_delete=models.PROTECT, related_name="broadcasts")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    inbound_message = models.OneToOneField(
        InboundMessage, null=True, blank=True, on_delete=models.PROTECT, related_name="broadcast"
    )
    author_address = models.CharField(max_length=254, blank=True, default="")
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="broadcasts"
    )
    subject = models.CharField(max_length=998, blank=True, default="")
    body_text = models.TextField(blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.SENDING)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(default=0)
    # DMARC-safe resending: the author's domain publishes p=quarantine/reject, so copies go out
    # From the list address with the author in Reply-To (mailing.rendering).
    rewrite_from = models.BooleanField(default=False)
    # Fan-out plan: the first Delivery id of each batch, then one past the last id. Batch i sends
    # the deliveries with batch_bounds[i] <= id < batch_bounds[i + 1] (mailing.services.delivery_batches).
    batch_bounds = models.JSONField(default=list, blank=True)
    # Planning in two steps (mailing.services.broadcasts): None once every active member has a
    # delivery; otherwise the members with a greater id are still to get theirs.
    plan_resume_member_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why copies could not be made (all of them: state FAILED; some: the broadcast went on without
    # them). Shown in the console and mailed to the list's admins.
    failure_reason = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["mailing_list", "-created_at"], name="broadcast_list_created")]


class Delivery(models.Model):
    """One recipient's copy of a broadcast. A delivery marked SENT is never sent again."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")
        DEFERRED = "deferred", _("deferred")  # 4xx: retried with backoff until a deadline
        FAILED = "failed", _("failed")  # 5xx or deadline passed: not retried
        BOUNCED = "bounced", _("bounced")  # a bounce arrived at the VERP address

    # No index of its own: delivery_unique_member (broadcast, member) serves lookups by broadcast.
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    member = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    address = models.CharField(max_length=254)  # as it was when the broadcast went out
    # Unguessable per-recipient token: VERP return path, unsubscribe, later read and survey links.
    token = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_response = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["broadcast", "member"], name="delivery_unique_member")]
        # Partial indexes of pending work only: marking a copy SENT adds no entry to them (the new
        # row version is outside their predicate), and SENT rows, nearly all of them, take no space.
        indexes = [
            # (broadcast, id): a batch's pending rows are an index range, whatever the statistics say
            # (with only `broadcast`, a plan made before ANALYZE saw the new rows scanned every pending
            # row of the broadcast for each batch: 100,000 rows x 500 batches).
            models.Index(
                fields=["broadcast", "id"],
                name="delivery_broadcast_pending",
                condition=models.Q(status__in=["queued", "deferred"]),
            ),
            models.Index(
                fields=["next_attempt_at"], name="delivery_deferred_next", condition=models.Q(status="deferred")
            ),
        ]


class Notice(models.Model):
    """An automatic mail to a person (welcome, confirmation, moderation request, reject, bounce warning).

    Stored in the transaction that decided it and sent by a job after commit, so a relay outage delays
    notices instead of failing (or repeating) the processing that produced them.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    kind = models.CharField(max_length=32)
    inbound_message = models.ForeignKey(
        InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    envelope_from = models.CharField(max_length=512, blank=True, default="")  # "" is <> (RFC 3834 3.3)
    recipient = models.CharField(max_length=254)
    raw = models.BinaryField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_response = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "created_at"], name="notice_state_created")]


class MemberImport(models.Model):
    """A CSV file of members uploaded in the console: previewed first, then applied all at once (F4).

    Large files are applied by a job (QUEUED -> RUNNING -> APPLIED or FAILED); its progress is kept
    in the cache (the insert is one transaction, so rows written so far are invisible until commit).
    """

    class State(models.TextChoices):
        PREVIEWED = "previewed", _("previewed")
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        APPLIED = "applied", _("applied")
        FAILED = "failed", _("failed")

    mailing_list = models.ForeignKey(MailingList, on_delete=models.CASCADE, related_name="member_imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=255, blank=True, default="")
    encoding = models.CharField(max_length=32, blank=True, default="")
    raw = models.BinaryField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PREVIEWED)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    # The first rows with errors: [{"line": 3, "address": "...", "error": "..."}, ...]
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    imported_count = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)


# Web broadcasts' content, options, links and surveys (F7-F11) live in a module of their own.
from mailing.web_broadcast_models import (  # noqa: E402, F401
    BroadcastAttachment,
    LinkVisit,
    ReadConfirmation,
    Survey,
    SurveyAnswer,
    SurveyChoice,
    SurveyQuestion,
    WebBroadcast,
)
