"""The yearly rollover wizard (進級・クラス替え), owners only: choose the school and how, see the full
plan, apply it at once, undo it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from org_groups.errors import OrgGroupsUserError, PlanOutdatedError
from org_groups.forms import RolloverForm
from org_groups.models import Group, Rollover
from org_groups.selectors import rollover_get, rollovers_recent, tree_for
from org_groups.services import rollover as rollover_services

MAX_UPLOAD = rollover_services.MAX_CSV_BYTES


def _roots() -> list[tuple[int, str]]:
    """Groups with at least two groups under them: the candidates for a school."""
    nodes, _loose = tree_for(with_counts=False)
    children: dict[int, int] = {}
    for node in nodes:
        if node.group.parent_id and not node.group.archived:
            children[node.group.parent_id] = children.get(node.group.parent_id, 0) + 1
    return [
        (node.group.id, "　" * node.depth + node.group.name) for node in nodes if children.get(node.group.id, 0) >= 2
    ]


@login_required
@require_http_methods(["GET", "POST"])
def rollover_start(request: HttpRequest) -> HttpResponse:
    policy.require(policy.rollover_can_run(request.user))
    form = RolloverForm(request.POST or None, request.FILES or None, roots=_roots())
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        try:
            if upload is not None and upload.size > MAX_UPLOAD:
                raise OrgGroupsUserError(_("The file is too large (at most 5 MB)."))
            rollover = rollover_services.rollover_plan_make(
                root_group=Group.objects.get(pk=form.cleaned_data["root"]),
                mode=form.cleaned_data["mode"],
                leaving=form.cleaned_data["leaving"],
                archive_label=form.cleaned_data["archive_label"],
                csv_data=upload.read() if upload is not None else b"",
                csv_filename=upload.name if upload is not None else "",
                actor=request.user,
            )
        except OrgGroupsUserError as error:
            form.add_error(None, str(error))
        else:
            return redirect("console:rollover_detail", rollover_id=rollover.pk)
    return render(request, "org_groups/rollover_start.html", {"form": form, "recent": rollovers_recent()})


def _rollover(request: HttpRequest, rollover_id: int) -> Rollover:
    policy.require(policy.rollover_can_run(request.user))
    rollover = rollover_get(rollover_id=rollover_id)
    if rollover is None:
        raise Http404
    return rollover


@login_required
def rollover_detail(request: HttpRequest, rollover_id: int) -> HttpResponse:
    rollover = _rollover(request, rollover_id)
    plan = rollover.plan
    totals = {
        "moves": len(plan.get("moves", [])),
        "merges": len(plan.get("merges", [])),
        "leavers": len(plan.get("leavers", [])),
        "stays": len(plan.get("stays", [])),
        "unmatched": len(plan.get("unmatched", [])),
    }
    return render(request, "org_groups/rollover_detail.html", {"rollover": rollover, "plan": plan, "totals": totals})


@login_required
@require_POST
def rollover_apply(request: HttpRequest, rollover_id: int) -> HttpResponse:
    rollover = _rollover(request, rollover_id)
    try:
        rollover_services.rollover_apply(rollover=rollover, actor=request.user)
    except PlanOutdatedError as error:
        rollover_services.rollover_plan_refresh(rollover=rollover)
        messages.error(request, str(error))
    except OrgGroupsUserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The rollover was applied."))
    return redirect("console:rollover_detail", rollover_id=rollover.pk)


@login_required
@require_POST
def rollover_undo(request: HttpRequest, rollover_id: int) -> HttpResponse:
    rollover = _rollover(request, rollover_id)
    try:
        result = rollover_services.rollover_undo(rollover=rollover, actor=request.user)
    except OrgGroupsUserError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("The rollover was undone: %(count)d members are back.") % {"count": result.restored}
        )
        for reason in result.skipped[:20]:
            messages.warning(request, reason)
    return redirect("console:rollover_detail", rollover_id=rollover.pk)
