"""The group tree pages (owners): build the tree, rename, reorder, attach lists, appoint group admins."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from accounts.invitations import invitation_send
from mailing.selectors.lists import lists_all
from org_groups.errors import OrgGroupsUserError
from org_groups.forms import GroupAdminForm, GroupForm
from org_groups.models import Group, GroupAdmin
from org_groups.selectors import group_admins, group_list_ids, group_subtree_ids, tree_for
from org_groups.services import tree as tree_services


def _group_for_owner(request: HttpRequest, group_id: int) -> Group:
    policy.require(policy.groups_can_edit(request.user))
    return get_object_or_404(Group.objects.select_related("parent", "mailing_list"), pk=group_id)


def _form(request: HttpRequest, group: Group | None, initial: dict) -> GroupForm:
    nodes, _loose = tree_for(with_counts=False)
    excluded = group_subtree_ids(group.pk) if group is not None else set()
    parents = [
        (node.group.id, "　" * node.depth + node.group.name)
        for node in nodes
        if node.group.id not in excluded and not node.group.archived
    ]
    taken = group_list_ids() - ({group.mailing_list_id} if group is not None else set())
    lists = [(each.pk, f"{each.name} <{each.local_part}>") for each in lists_all() if each.pk not in taken]
    return GroupForm(request.POST or None, initial=initial, parents=parents, lists=lists)


@login_required
def group_tree(request: HttpRequest) -> HttpResponse:
    policy.require(policy.groups_can_edit(request.user))
    nodes, loose = tree_for()
    return render(request, "org_groups/tree.html", {"nodes": nodes, "loose": loose})


@login_required
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest) -> HttpResponse:
    policy.require(policy.groups_can_edit(request.user))
    parent_id = request.GET.get("parent", "")
    form = _form(request, None, {"parent": int(parent_id) if parent_id.isdigit() else None})
    if request.method == "POST" and form.is_valid():
        parent = Group.objects.filter(pk=form.cleaned_data["parent"]).first() if form.cleaned_data["parent"] else None
        try:
            group = tree_services.group_create(
                name=form.cleaned_data["name"],
                parent=parent,
                mailing_list_id=form.cleaned_data["mailing_list"],
                actor=request.user,
            )
        except OrgGroupsUserError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The group %(name)s was created.") % {"name": group.name})
            return redirect("console:group_tree")
    return render(request, "org_groups/group_form.html", {"form": form, "creating": True})


@login_required
@require_http_methods(["GET", "POST"])
def group_edit(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_for_owner(request, group_id)
    form = _form(request, group, {"name": group.name, "parent": group.parent_id, "mailing_list": group.mailing_list_id})
    if request.method == "POST" and form.is_valid():
        parent = Group.objects.filter(pk=form.cleaned_data["parent"]).first() if form.cleaned_data["parent"] else None
        try:
            tree_services.group_update(
                group=group,
                name=form.cleaned_data["name"],
                parent=parent,
                mailing_list_id=form.cleaned_data["mailing_list"],
                actor=request.user,
            )
        except OrgGroupsUserError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The group %(name)s was saved.") % {"name": form.cleaned_data["name"]})
            return redirect("console:group_tree")
    return render(request, "org_groups/group_form.html", {"form": form, "group": group})


@login_required
@require_POST
def group_reorder(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_for_owner(request, group_id)
    try:
        tree_services.group_reorder(group=group, direction=request.POST.get("direction", ""), actor=request.user)
    except OrgGroupsUserError as error:
        messages.error(request, str(error))
    return redirect(f"{reverse('console:group_tree')}#group-{group.pk}")


@login_required
@require_POST
def group_delete(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_for_owner(request, group_id)
    try:
        tree_services.group_delete(group=group, actor=request.user)
    except OrgGroupsUserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The group %(name)s was deleted.") % {"name": group.name})
    return redirect("console:group_tree")


@login_required
@require_http_methods(["GET", "POST"])
def group_admin_list(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_for_owner(request, group_id)
    form = GroupAdminForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            role, invited = tree_services.group_admin_appoint(group=group, actor=request.user, **form.cleaned_data)
        except OrgGroupsUserError as error:
            form.add_error(None, str(error))
        else:
            if invited:
                email = role.user.email
                transaction.on_commit(lambda: invitation_send(request, email))
                messages.success(
                    request,
                    _("%(user)s was invited: a mail to set a password went to %(email)s.")
                    % {"user": role.user.get_username(), "email": email},
                )
            else:
                messages.success(
                    request,
                    _("%(user)s now manages the lists of %(group)s.")
                    % {"user": role.user.get_username(), "group": group.name},
                )
            return redirect("console:group_admin_list", group_id=group.pk)
    nodes, _loose = tree_for(group_ids=group_subtree_ids(group.pk), with_counts=False)
    return render(
        request,
        "org_groups/group_admins.html",
        {"group": group, "form": form, "roles": group_admins(group=group), "nodes": nodes},
    )


@login_required
@require_POST
def group_admin_delete(request: HttpRequest, group_id: int, role_id: int) -> HttpResponse:
    group = _group_for_owner(request, group_id)
    role = get_object_or_404(GroupAdmin.objects.select_related("user", "group"), pk=role_id, group=group)
    tree_services.group_admin_remove(role=role, actor=request.user)
    messages.success(
        request,
        _("%(user)s no longer manages %(group)s.") % {"user": role.user.get_username(), "group": group.name},
    )
    return redirect("console:group_admin_list", group_id=group.pk)
