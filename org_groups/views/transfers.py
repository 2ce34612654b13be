"""The group admin's page for moving and copying members between the lists of their subtree.

/transfer/                      choose the source list (lists of your subtrees), your recent operations
/transfer/lists/<id>/           choose members (by hand, by filter, the whole list), target, move/copy
/transfers/<id>/                the preview (what will change), then the result, with undo for the last
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from mailing.forms import STATUS_LABELS
from mailing.models import MailingList, Member
from mailing.selectors.lists import list_get, lists_all, lists_by_ids
from mailing.selectors.members import member_ids_filter, members_filter
from org_groups.errors import OrgGroupsUserError
from org_groups.forms import TransferForm
from org_groups.models import MemberTransfer, MemberTransferItem
from org_groups.selectors import (
    group_admin_group_ids,
    group_admin_list_ids,
    transfer_get,
    transfer_last_applied,
    transfers_recent,
    tree_for,
)
from org_groups.services import transfers as transfer_services

PAGE_SIZE = 100
PREVIEW_ROWS = 1000  # rows listed per part of a preview or result (the counts are always complete)


def _filters(source) -> dict[str, str]:
    status = source.get("status", "")
    return {"q": source.get("q", "").strip()[:200], "status": status if status in Member.Status.values else ""}


@login_required
def transfer_home(request: HttpRequest) -> HttpResponse:
    """Choose the list to move or copy members from."""
    policy.require(policy.transfer_can_use(request.user))
    if policy.is_owner(request.user):
        nodes, loose = tree_for()
    else:
        visible = group_admin_list_ids(request.user)
        nodes, loose = tree_for(list_ids=visible, group_ids=group_admin_group_ids(request.user))
    last = transfer_last_applied(actor=request.user)
    return render(
        request,
        "org_groups/transfer_home.html",
        {
            "nodes": nodes,
            "loose": loose,
            "recent": transfers_recent(actor=request.user),
            "last": last if last is not None and last.state == MemberTransfer.State.APPLIED else None,
        },
    )


def _source_for_user(request: HttpRequest, list_id: int) -> MailingList:
    """The list as a source of a move or copy: 404 if it is not here, 403 if not in the person's subtrees."""
    source = list_get(list_id=list_id)
    if source is None:
        raise Http404
    policy.require(policy.transfer_source_allowed(request.user, source.pk))
    return source


def _targets(request: HttpRequest, source: MailingList) -> dict[int, MailingList]:
    scope = policy.transfer_targets(request.user, source.pk)
    if scope.every_list:
        lists = {each.pk: each for each in lists_all() if each.pk != source.pk}
    else:
        lists = lists_by_ids(list_ids=scope.list_ids)
    return {pk: each for pk, each in lists.items() if each.archived_at is None}


@login_required
@require_http_methods(["GET", "POST"])
def transfer_select(request: HttpRequest, list_id: int) -> HttpResponse:
    """Choose members, a target in the same subtree, and move or copy; POST makes the preview."""
    source = _source_for_user(request, list_id)
    allowed = _targets(request, source)
    targets = sorted(allowed.values(), key=lambda each: (each.name, each.pk))
    form = TransferForm(
        request.POST or None,
        initial={"mode": "hand", "kind": MemberTransfer.Kind.MOVE},
        targets=[(each.pk, f"{each.name} <{each.local_part}>") for each in targets],
    )
    filters = _filters(request.POST if request.method == "POST" else request.GET)
    error = ""
    if request.method == "POST":
        if form.is_valid():
            target_id = form.cleaned_data["target"]
            policy.require(target_id in allowed)  # a forged target outside the subtree: 403
            mode = form.cleaned_data["mode"]
            if mode == "hand":
                ids = [int(value) for value in request.POST.getlist("member") if value.isdigit()]
            elif mode == "filter":
                ids = member_ids_filter(mailing_list=source, search=filters["q"], status=filters["status"])
            else:
                ids = member_ids_filter(mailing_list=source)
            try:
                transfer = transfer_services.transfer_preview(
                    actor=request.user,
                    kind=form.cleaned_data["kind"],
                    source_list=source,
                    target_list=allowed[target_id],
                    member_ids=ids,
                    selection={"mode": mode, **filters},
                )
            except OrgGroupsUserError as problem:
                error = str(problem)
            else:
                return redirect("console:transfer_detail", transfer_id=transfer.pk)
        else:
            error = _("Choose which members, move or copy, and the target list.")
    members = members_filter(mailing_list=source, search=filters["q"], status=filters["status"], sort="name")
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    for member in page.object_list:
        member.status_label = STATUS_LABELS.get(member.status, member.status)
    context = {
        "source": source,
        "form": form,
        "page": page,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "statuses": [(value, STATUS_LABELS[value]) for value in Member.Status.values],
        "total": source.members.count(),
        "error": error,
        "has_targets": bool(targets),
    }
    template = "org_groups/_transfer_members.html" if request.htmx and not request.htmx.boosted else None
    return render(request, template or "org_groups/transfer_select.html", context)


def _transfer_for_user(request: HttpRequest, transfer_id: int) -> MemberTransfer:
    transfer = transfer_get(transfer_id=transfer_id)
    if transfer is None:
        raise Http404
    policy.require(
        policy.transfer_can_view(
            request.user,
            actor_id=transfer.actor_id,
            source_id=transfer.source_list_id,
            target_id=transfer.target_list_id,
        )
    )
    return transfer


@login_required
def transfer_detail(request: HttpRequest, transfer_id: int) -> HttpResponse:
    transfer = _transfer_for_user(request, transfer_id)
    context: dict = {"transfer": transfer, "limit": PREVIEW_ROWS}
    if transfer.state == MemberTransfer.State.PREVIEWED:
        diff = transfer_services.transfer_diff(transfer=transfer)
        context.update(
            diff=diff,
            added=diff.added[:PREVIEW_ROWS],
            already=diff.already[:PREVIEW_ROWS],
            leaving=diff.leaving[:PREVIEW_ROWS],
        )
    else:
        items = transfer.items.order_by("outcome", "address")
        groups = {outcome: [] for outcome in MemberTransferItem.Outcome.values}
        for item in items:
            if len(groups[item.outcome]) < PREVIEW_ROWS:
                groups[item.outcome].append(item)
        last = transfer_last_applied(actor=transfer.actor) if transfer.actor_id else None
        context.update(
            items=groups,
            can_undo=transfer.state == MemberTransfer.State.APPLIED and last is not None and last.pk == transfer.pk,
        )
    return render(request, "org_groups/transfer_detail.html", context)


@login_required
@require_POST
def transfer_apply(request: HttpRequest, transfer_id: int) -> HttpResponse:
    transfer = _transfer_for_user(request, transfer_id)
    try:
        transfer = transfer_services.transfer_apply(transfer=transfer, actor=request.user)
    except OrgGroupsUserError as error:
        messages.error(request, str(error))
    else:
        numbers = {"count": transfer.added_count, "target": transfer.target_label, "already": transfer.already_count}
        if transfer.kind == MemberTransfer.Kind.MOVE:
            notice = _("%(count)d members moved to %(target)s; %(already)d were already there.") % numbers
        else:
            notice = _("%(count)d members copied to %(target)s; %(already)d were already there.") % numbers
        messages.success(request, notice)
    return redirect("console:transfer_detail", transfer_id=transfer.pk)


@login_required
@require_POST
def transfer_undo(request: HttpRequest, transfer_id: int) -> HttpResponse:
    transfer = _transfer_for_user(request, transfer_id)
    try:
        result = transfer_services.transfer_undo(transfer=transfer, actor=request.user)
    except OrgGroupsUserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Undone: %(count)d members are back as they were.") % {"count": result.restored})
        for reason in result.skipped[:20]:
            messages.warning(request, reason)
    return redirect("console:transfer_detail", transfer_id=transfer.pk)
