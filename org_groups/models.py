"""The group tree of an organization (F6) and what is done with it.

- Group: school > grade > class, or company > division > department. A group may have a list.
- GroupAdmin: a console user who manages every list in the subtree of one group.
- MemberTransfer (+ items): one move or copy of members between two lists, kept for its preview,
  its result, the audit and its undo.
- Rollover: the yearly 進級・クラス替え of a school: its plan, what applying it did, and its undo.

Groups sit on lists, never the reverse: mailing knows nothing of this app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Group(models.Model):
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # Order among siblings (grades 1..6, classes 1組..4組); the tree and the rollover read it.
    position = models.PositiveIntegerField(default=0)
    mailing_list = models.OneToOneField(
        "mailing.MailingList", null=True, blank=True, on_delete=models.SET_NULL, related_name="group"
    )
    # Archive groups (a leaving grade kept read-only by the rollover) hold archived lists only.
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["parent", "position", "id"], name="group_parent_position")]

    def __str__(self) -> str:
        return self.name


class GroupAdmin(models.Model):
    """A console user who manages every list in the subtree of `group`, and nothing else."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_admin_roles")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="admins")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "group"], name="group_admin_unique")]


class MemberTransfer(models.Model):
    """A move or copy of members from one list to another: previewed, applied, maybe undone."""

    class Kind(models.TextChoices):
        MOVE = "move", _("move")
        COPY = "copy", _("copy")

    class State(models.TextChoices):
        PREVIEWED = "previewed", _("previewed")
        APPLIED = "applied", _("applied")
        UNDONE = "undone", _("undone")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PREVIEWED)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    source_list = models.ForeignKey("mailing.MailingList", null=True, on_delete=models.SET_NULL, related_name="+")
    target_list = models.ForeignKey("mailing.MailingList", null=True, on_delete=models.SET_NULL, related_name="+")
    # Names as they were, so the record stays readable after a list is renamed or deleted.
    source_label = models.CharField(max_length=300, blank=True, default="")
    target_label = models.CharField(max_length=300, blank=True, default="")
    # How the members were chosen: {"mode": "hand"|"filter"|"all", "q": ..., "status": ...}.
    selection = models.JSONField(default=dict, blank=True)
    # The members previewed (source member ids): apply acts on these and no others.
    member_ids = models.JSONField(default=list, blank=True)
    added_count = models.PositiveIntegerField(default=0)
    already_count = models.PositiveIntegerField(default=0)
    left_source_count = models.PositiveIntegerField(default=0)
    # Previewed members that were gone from the source list (left by mail, moved by someone else).
    gone_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["actor", "state", "-applied_at"], name="transfer_actor_applied")]


class MemberTransferItem(models.Model):
    """What an applied transfer did to one member (what its undo needs)."""

    class Outcome(models.TextChoices):
        # MOVED: the member row now belongs to the target list (same id, history).
        MOVED = "moved", pgettext_lazy("transfer outcome", "moved")
        # COPIED: a new member row in the target list (created_member_id).
        COPIED = "copied", pgettext_lazy("transfer outcome", "copied")
        ALREADY = "already", _("already")  # the target had the address; a move removed the source row
        GONE = "gone", _("gone")  # no longer in the source list when applied

    transfer = models.ForeignKey(MemberTransfer, on_delete=models.CASCADE, related_name="items")
    member_id = models.BigIntegerField()
    address = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    created_member_id = models.BigIntegerField(null=True, blank=True)
    # A source row a move removed (its address was already in the target): restored by undo.
    removed_row = models.JSONField(null=True, blank=True)


class Rollover(models.Model):
    """The yearly rollover (進級・クラス替え) of one school group: plan, apply, undo."""

    class Mode(models.TextChoices):
        RULE = "rule", _("rule")  # every class moves to the class with the same letter one grade up
        CSV = "csv", _("csv")  # an uploaded file says the new class of each member (by address or name)

    class Leaving(models.TextChoices):
        ARCHIVE = "archive", _("archive")  # the leaving grade's members go to read-only archive lists
        REMOVE = "remove", _("remove")  # the leaving grade's members are removed

    class State(models.TextChoices):
        PLANNED = "planned", _("planned")
        APPLIED = "applied", _("applied")
        UNDONE = "undone", _("undone")

    root_group = models.ForeignKey(Group, null=True, on_delete=models.SET_NULL, related_name="rollovers")
    root_label = models.CharField(max_length=300, blank=True, default="")
    mode = models.CharField(max_length=8, choices=Mode.choices)
    leaving = models.CharField(max_length=8, choices=Leaving.choices)
    archive_label = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PLANNED)
    csv_filename = models.CharField(max_length=255, blank=True, default="")
    csv_encoding = models.CharField(max_length=32, blank=True, default="")
    csv_raw = models.BinaryField(blank=True, default=b"")
    # The plan shown before applying (org_groups.services.rollover_plan): moves, leavers, per-list
    # comings and goings, rows that matched nothing.
    plan = models.JSONField(default=dict, blank=True)
    # What applying did, in the order it did it, for the undo.
    applied = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
