"""Moving and copying members between two lists of a subtree (the group admin's page, F6).

1. `transfer_preview` keeps the chosen members (by hand, by filter or the whole list) with the source,
   target and kind. Nothing changes yet; `transfer_diff` says what applying would do now: who is
   added, who is already there, who leaves the source.
2. `transfer_apply` does it in one transaction, on the previewed members only and as they are at
   that moment: the two lists are locked (in id order, so two admins never deadlock), the members
   locked, a member who left or was moved meanwhile is reported as gone, and the uniqueness of an
   address in a list is never broken (a copy skips addresses the target has; a move removes the
   source row of such a member, keeping it for the undo). Moved members are the same rows: name,
   status, person and history go with them.
3. `transfer_undo` reverses the actor's last operation, as far as the lists still allow.

Every apply and undo writes audit events for both lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from mailing.selectors.members import addresses_in_list, member_rows
from mailing.services.member_bulk import (
    concurrent_write_conflict,
    lists_lock,
    members_copy,
    members_delete,
    members_lock,
    members_relocate,
    members_restore,
)
from org_groups.errors import OrgGroupsUserError
from org_groups.models import MemberTransfer, MemberTransferItem
from org_groups.selectors import transfer_last_applied

MAX_MEMBERS = 100_000
APPLY_ATTEMPTS = 3


@dataclass
class TransferDiff:
    added: list[dict] = field(default_factory=list)  # will be in the target (moved or copied)
    already: list[dict] = field(default_factory=list)  # the target has their address already
    leaving: list[dict] = field(default_factory=list)  # will leave the source (moves only)
    gone: list[int] = field(default_factory=list)  # previewed, no longer in the source


def _label(mailing_list) -> str:
    return f"{mailing_list.name} <{mailing_list.local_part}>"


@transaction.atomic
def transfer_preview(
    *, actor: Any, kind: str, source_list, target_list, member_ids: list[int], selection: dict
) -> MemberTransfer:
    """Keep a choice of members to move or copy; the caller has checked the actor may use both lists."""
    if kind not in MemberTransfer.Kind.values:
        raise OrgGroupsUserError(_("Choose move or copy."))
    if target_list is None:
        raise OrgGroupsUserError(_("Choose the list to move or copy to."))
    if source_list.pk == target_list.pk:
        raise OrgGroupsUserError(_("Choose a target list other than the source list."))
    for mailing_list in (source_list, target_list):
        if mailing_list.archived_at is not None:
            raise OrgGroupsUserError(
                _("%(list)s is archived (read-only): its members cannot be changed.") % {"list": mailing_list.name}
            )
    ids = [row["id"] for row in member_rows(member_ids=list(set(member_ids)), mailing_list_ids=[source_list.pk])]
    if not ids:
        raise OrgGroupsUserError(_("Select members first."))
    if len(ids) > MAX_MEMBERS:
        raise OrgGroupsUserError(_("At most %(max)d members at a time.") % {"max": MAX_MEMBERS})
    return MemberTransfer.objects.create(
        kind=kind,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        source_list=source_list,
        target_list=target_list,
        source_label=_label(source_list),
        target_label=_label(target_list),
        selection=selection,
        member_ids=ids,
    )


def _diff(transfer: MemberTransfer, rows: list[dict]) -> TransferDiff:
    present = {row["id"] for row in rows}
    existing = addresses_in_list(
        mailing_list_id=transfer.target_list_id, addresses_normalized=[row["address_normalized"] for row in rows]
    )
    diff = TransferDiff(gone=[member_id for member_id in transfer.member_ids if member_id not in present])
    for row in rows:
        (diff.already if row["address_normalized"] in existing else diff.added).append(row)
    if transfer.kind == MemberTransfer.Kind.MOVE:
        diff.leaving = list(rows)
    return diff


def transfer_diff(*, transfer: MemberTransfer) -> TransferDiff:
    """What applying the transfer would do to the lists as they are now."""
    rows = member_rows(member_ids=transfer.member_ids, mailing_list_ids=[transfer.source_list_id])
    return _diff(transfer, rows)


def transfer_apply(*, transfer: MemberTransfer, actor: Any = None) -> MemberTransfer:
    """Apply a previewed transfer in one transaction (retried if a join by mail races it)."""
    for attempt in range(APPLY_ATTEMPTS):
        try:
            return _apply(transfer_id=transfer.pk, actor=actor)
        except (IntegrityError, OperationalError) as error:
            # An address arrived in the target list (a join by mail) between our check and our write,
            # or PostgreSQL broke a deadlock with such a writer: everything rolled back; look again.
            if not concurrent_write_conflict(error):
                raise
            if attempt == APPLY_ATTEMPTS - 1:
                raise OrgGroupsUserError(_("The lists kept changing; nothing was changed. Try again.")) from None
    raise AssertionError("unreachable")


@transaction.atomic
def _apply(*, transfer_id: int, actor: Any) -> MemberTransfer:
    transfer = MemberTransfer.objects.select_for_update().get(pk=transfer_id)
    if transfer.state != MemberTransfer.State.PREVIEWED:
        raise OrgGroupsUserError(_("This operation has already been applied."))
    if transfer.source_list_id is None or transfer.target_list_id is None:
        raise OrgGroupsUserError(_("One of the lists was deleted; nothing was changed."))
    locked = lists_lock(list_ids=[transfer.source_list_id, transfer.target_list_id])
    if len(locked) != 2:
        raise OrgGroupsUserError(_("One of the lists was deleted; nothing was changed."))
    if transfer.source_list.archived_at is not None or transfer.target_list.archived_at is not None:
        raise OrgGroupsUserError(_("One of the lists is archived (read-only); nothing was changed."))
    rows = members_lock(member_ids=transfer.member_ids, mailing_list_ids=[transfer.source_list_id])
    diff = _diff(transfer, rows)
    items: list[MemberTransferItem] = []

    def item(row: dict, outcome: str, **extra) -> None:
        items.append(
            MemberTransferItem(
                transfer=transfer,
                member_id=row["id"],
                address=row["address"],
                name=row["name"],
                outcome=outcome,
                **extra,
            )
        )

    if transfer.kind == MemberTransfer.Kind.MOVE:
        removed = {row["id"]: row for row in members_delete(member_ids=[row["id"] for row in diff.already])}
        members_relocate(moves=[(row["id"], transfer.target_list_id) for row in diff.added])
        for row in diff.added:
            item(row, MemberTransferItem.Outcome.MOVED)
        for row in diff.already:
            item(row, MemberTransferItem.Outcome.ALREADY, removed_row=removed[row["id"]])
        transfer.left_source_count = len(rows)
    else:
        made = members_copy(member_ids=[row["id"] for row in diff.added], target_list_id=transfer.target_list_id)
        for row in diff.added:
            if row["id"] in made:
                item(row, MemberTransferItem.Outcome.COPIED, created_member_id=made[row["id"]])
            else:  # arrived in the target meanwhile: ON CONFLICT skipped it
                item(row, MemberTransferItem.Outcome.ALREADY)
        for row in diff.already:
            item(row, MemberTransferItem.Outcome.ALREADY)
    for member_id in diff.gone:
        items.append(MemberTransferItem(transfer=transfer, member_id=member_id, address="", outcome="gone"))
    MemberTransferItem.objects.bulk_create(items, batch_size=2000)
    counts = dict.fromkeys(MemberTransferItem.Outcome.values, 0)
    for entry in items:
        counts[entry.outcome] += 1
    transfer.added_count = counts["moved"] + counts["copied"]
    transfer.already_count = counts["already"]
    transfer.gone_count = counts["gone"]
    transfer.state = MemberTransfer.State.APPLIED
    transfer.applied_at = timezone.now()
    if getattr(actor, "is_authenticated", False):
        transfer.actor = actor
    transfer.save()
    _audit(transfer, actor, f"members.{transfer.kind}", items)
    return transfer


def _audit(transfer: MemberTransfer, actor: Any, action: str, items: list[MemberTransferItem]) -> None:
    details = {
        "kind": transfer.kind,
        "from": transfer.source_label,
        "to": transfer.target_label,
        "added": transfer.added_count,
        "already_there": transfer.already_count,
        "left_source": transfer.left_source_count,
        "gone": transfer.gone_count,
        "addresses": [entry.address for entry in items if entry.address][:1000],
    }
    for list_id in (transfer.source_list_id, transfer.target_list_id):
        audit_record(
            actor=actor,
            action=action,
            obj=transfer,
            object_label=f"{transfer.source_label} → {transfer.target_label}",
            mailing_list_id=list_id,
            after=details,
        )


@dataclass
class UndoResult:
    restored: int = 0
    skipped: list[str] = field(default_factory=list)  # addresses that could not be put back, with why


@transaction.atomic
def transfer_undo(*, transfer: MemberTransfer, actor: Any = None) -> UndoResult:
    """Reverse the actor's last move or copy: moved members go back (same rows), source rows a move
    removed come back, copies made are removed. Members changed since (left, moved on, or whose
    address is back in the source) are left as they are and reported."""
    transfer = MemberTransfer.objects.select_for_update().get(pk=transfer.pk)
    if transfer.state != MemberTransfer.State.APPLIED:
        raise OrgGroupsUserError(_("Only an applied operation can be undone."))
    last = transfer_last_applied(actor=transfer.actor) if transfer.actor_id else None
    if last is not None and last.pk != transfer.pk:
        raise OrgGroupsUserError(_("Only the last operation can be undone."))
    if transfer.source_list_id is None or transfer.target_list_id is None:
        raise OrgGroupsUserError(_("One of the lists was deleted; it cannot be undone."))
    lists_lock(list_ids=[transfer.source_list_id, transfer.target_list_id])
    items = list(transfer.items.exclude(outcome=MemberTransferItem.Outcome.GONE))
    result = UndoResult()
    if transfer.kind == MemberTransfer.Kind.MOVE:
        moved = [entry for entry in items if entry.outcome == MemberTransferItem.Outcome.MOVED]
        present = {
            row["id"]: row
            for row in members_lock(
                member_ids=[entry.member_id for entry in moved], mailing_list_ids=[transfer.target_list_id]
            )
        }
        back_rows = [present[entry.member_id] for entry in moved if entry.member_id in present]
        removed_rows = [entry.removed_row for entry in items if entry.removed_row]
        taken = addresses_in_list(
            mailing_list_id=transfer.source_list_id,
            addresses_normalized=[row["address_normalized"] for row in back_rows + removed_rows],
        )
        result.skipped += [
            _("%(address)s: no longer in the target list") % {"address": entry.address}
            for entry in moved
            if entry.member_id not in present
        ]
        moves = []
        for row in back_rows:
            if row["address_normalized"] in taken:
                result.skipped.append(_("%(address)s: the source list has it again") % {"address": row["address"]})
            else:
                moves.append((row["id"], transfer.source_list_id))
        restore = []
        for row in removed_rows:
            if row["address_normalized"] in taken:
                result.skipped.append(_("%(address)s: the source list has it again") % {"address": row["address"]})
            else:
                restore.append(row)
        members_relocate(moves=moves)
        members_restore(rows=restore)
        result.restored = len(moves) + len(restore)
    else:
        copies = [entry.created_member_id for entry in items if entry.created_member_id]
        present = members_lock(member_ids=copies, mailing_list_ids=[transfer.target_list_id])
        members_delete(member_ids=[row["id"] for row in present])
        result.restored = len(present)
        result.skipped += [
            _("%(address)s: the copy was already removed") % {"address": entry.address}
            for entry in items
            if entry.created_member_id and entry.created_member_id not in {row["id"] for row in present}
        ]
    transfer.state = MemberTransfer.State.UNDONE
    transfer.undone_at = timezone.now()
    transfer.save(update_fields=["state", "undone_at"])
    for list_id in (transfer.source_list_id, transfer.target_list_id):
        audit_record(
            actor=actor,
            action=f"members.{transfer.kind}_undo",
            obj=transfer,
            object_label=f"{transfer.source_label} → {transfer.target_label}",
            mailing_list_id=list_id,
            after={"restored": result.restored, "skipped": result.skipped[:1000]},
        )
    return result
