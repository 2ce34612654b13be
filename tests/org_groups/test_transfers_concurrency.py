"""Moves under concurrent edits, with real sessions on PostgreSQL (committed data, threads):
two admins moving the same members, and a member leaving by mail in the middle of a move."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from mailing.models import Member
from mailing.services.inbound.membership import leave_confirm
from org_groups.models import MemberTransfer
from org_groups.services.transfers import transfer_apply, transfer_preview, transfer_undo
from tests.factories import member_make
from tests.factories.console import group_admin_make, managed_list_make
from tests.org_groups.support import in_thread, members_add, wait_for_lock_waiter

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("committed_tenant")]


def _setup(count: int = 10):
    source = managed_list_make(name="3年2組")
    to_t = managed_list_make(name="4年1組")
    to_u = managed_list_make(name="4年2組")
    admin_a = group_admin_make(source, to_t, to_u)
    admin_b = group_admin_make(group=admin_a.group)
    members = members_add(source, count, prefix=f"cc{source.pk}.")
    return source, to_t, to_u, admin_a.user, admin_b.user, members


def _preview(actor, source, target, members) -> MemberTransfer:
    return transfer_preview(
        actor=actor,
        kind="move",
        source_list=source,
        target_list=target,
        member_ids=[m.pk for m in members],
        selection={"mode": "hand"},
    )


def _assert_each_member_once(members, lists) -> dict[int, int]:
    where = dict(Member.objects.filter(pk__in=[m.pk for m in members]).values_list("pk", "mailing_list_id"))
    for each in lists:
        addresses = list(Member.objects.filter(mailing_list=each).values_list("address_normalized", flat=True))
        assert len(addresses) == len(set(addresses)), "a duplicate address in a list"
    return where


def test_two_admins_moving_the_same_members_one_waits_and_finds_them_gone(tenant):
    source, to_t, to_u, admin_a, admin_b, members = _setup()
    first = _preview(admin_a, source, to_t, members)
    second = _preview(admin_b, source, to_u, members)

    with transaction.atomic():
        transfer_apply(transfer=first, actor=admin_a)  # holds the lists' locks until this block ends
        thread, outcome = in_thread(lambda: transfer_apply(transfer=second, actor=admin_b), tenant)
        wait_for_lock_waiter()  # admin B's apply waits for admin A's
    thread.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    second = outcome["result"]
    first.refresh_from_db()
    assert (first.added_count, first.gone_count) == (10, 0)
    assert (second.added_count, second.gone_count, second.state) == (0, 10, "applied")
    where = _assert_each_member_once(members, [source, to_t, to_u])
    assert set(where.values()) == {to_t.pk}  # every member moved exactly once, to A's target


def test_two_admins_moving_the_same_members_at_the_same_moment(tenant):
    """No orchestration: both start together; whoever wins, each member ends up in one list once."""
    for _round in range(3):
        source, to_t, to_u, admin_a, admin_b, members = _setup(30)
        previews = [_preview(admin_a, source, to_t, members), _preview(admin_b, source, to_u, members[10:])]
        start = threading.Barrier(2)

        def apply(transfer, actor, start=start):
            def run():
                start.wait(timeout=10)
                return transfer_apply(transfer=transfer, actor=actor)

            return run

        runs = [in_thread(apply(previews[0], admin_a), tenant), in_thread(apply(previews[1], admin_b), tenant)]
        for thread, _outcome in runs:
            thread.join(timeout=30)
        results = [outcome.get("result") for _thread, outcome in runs]
        assert all("error" not in outcome for _thread, outcome in runs), [o.get("error") for _t, o in runs]
        where = _assert_each_member_once(members, [source, to_t, to_u])
        assert len(where) == 30
        assert source.pk not in where.values()
        assert sum(r.added_count for r in results) == 30  # the 20 shared members moved once, not twice
        assert results[0].added_count + results[0].gone_count == 30
        assert results[1].added_count + results[1].gone_count == 20


def test_a_member_leaving_by_mail_mid_move_is_gone_at_the_end(tenant):
    """The leave (a confirmed leave mail) arrives while the move holds the member rows: it waits, then
    removes the member, now in the target. Nobody is left half-moved, duplicated or resurrected."""
    source, to_t, _to_u, admin_a, _admin_b, members = _setup()
    leaving = members[4]
    transfer = _preview(admin_a, source, to_t, members)

    with transaction.atomic():
        transfer_apply(transfer=transfer, actor=admin_a)
        thread, outcome = in_thread(lambda: leave_confirm(mailing_list_id=source.pk, address=leaving.address), tenant)
        wait_for_lock_waiter()  # the leave's DELETE waits on the row the move locked
    thread.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    assert not Member.objects.filter(pk=leaving.pk).exists()
    assert not Member.objects.filter(address_normalized=leaving.address_normalized).exists()
    where = _assert_each_member_once(members, [source, to_t])
    assert len(where) == 9
    assert set(where.values()) == {to_t.pk}
    result = transfer_undo(transfer=transfer, actor=admin_a)  # the undo does not bring them back
    assert result.restored == 9
    assert len(result.skipped) == 1
    assert not Member.objects.filter(address_normalized=leaving.address_normalized).exists()


def test_a_member_who_left_between_preview_and_apply_is_reported_gone(tenant):
    source, to_t, _to_u, admin_a, _admin_b, members = _setup()
    transfer = _preview(admin_a, source, to_t, members)
    leave_confirm(mailing_list_id=source.pk, address=members[0].address)
    transfer = transfer_apply(transfer=transfer, actor=admin_a)
    assert (transfer.added_count, transfer.gone_count) == (9, 1)
    assert not Member.objects.filter(address_normalized=members[0].address_normalized).exists()


def test_a_join_racing_into_the_target_makes_the_move_look_again(tenant):
    """An address joins the target (by mail) after the move's check and before its write: the move
    rolls back, looks again, and counts that member as already there."""
    source, to_t, _to_u, admin_a, _admin_b, members = _setup(5)
    transfer = _preview(admin_a, source, to_t, members)
    racer = members[2]
    # The join holds an uncommitted row with the same address in the target while the move runs.
    with transaction.atomic():
        member_make(to_t, address=racer.address, name="joined by mail")
        thread, outcome = in_thread(lambda: transfer_apply(transfer=transfer, actor=admin_a), tenant)
        wait_for_lock_waiter()  # the move's write waits on the joining row
    thread.join(timeout=30)

    assert "error" not in outcome, str(outcome.get("error"))
    result = outcome["result"]
    assert (result.added_count, result.already_count) == (4, 1)
    where = _assert_each_member_once(members, [source, to_t])
    assert racer.pk not in where  # its source row was removed (kept for the undo), the joined row stays
    assert Member.objects.get(mailing_list=to_t, address_normalized=racer.address_normalized).name == "joined by mail"
