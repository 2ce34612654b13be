from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import policy
from mailing.forms import ListCreateForm, ListDeleteForm, ListForm
from mailing.selectors.deliveries import broadcasts_with_failures
from mailing.selectors.members import member_status_counts
from mailing.services import lists as list_services
from mailing.views.common import form_saved, list_context, list_for_user


@login_required
@require_http_methods(["GET", "POST"])
def list_create(request: HttpRequest) -> HttpResponse:
    policy.require(policy.list_can_create(request.user))
    form = ListCreateForm(request.POST or None)
    mailing_list = form_saved(
        request, form, lambda data: list_services.list_create(admin_user=request.user, actor=request.user, **data)
    )
    if mailing_list is not None:
        messages.success(request, _("The list %(name)s was created.") % {"name": mailing_list.name})
        return redirect("console:list_detail", list_id=mailing_list.pk)
    return render(request, "mailing/list_form.html", {"form": form, "creating": True})


@login_required
def list_detail(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    counts = member_status_counts(mailing_list=mailing_list)
    return render(
        request,
        "mailing/list_detail.html",
        list_context(
            request,
            mailing_list,
            counts=counts,
            member_total=sum(counts.values()),
            failed_broadcasts=broadcasts_with_failures(mailing_list=mailing_list),
            tab="overview",
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def list_edit(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    initial = {field: getattr(mailing_list, field) for field in list_services.LIST_FIELDS}
    form = ListForm(request.POST or None, initial=initial)
    saved = form_saved(
        request, form, lambda data: list_services.list_update(mailing_list=mailing_list, actor=request.user, **data)
    )
    if saved is not None:
        messages.success(request, _("The list settings were saved."))
        return redirect("console:list_detail", list_id=mailing_list.pk)
    return render(request, "mailing/list_form.html", list_context(request, mailing_list, form=form, tab="settings"))


@login_required
@require_http_methods(["GET", "POST"])
def list_delete(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    policy.require(policy.list_can_delete(request.user, mailing_list.pk))
    form = ListDeleteForm(request.POST or None)
    name = mailing_list.name

    def delete(data: dict) -> str:
        list_services.list_delete(mailing_list=mailing_list, confirmation=data["confirmation"], actor=request.user)
        return name

    if form_saved(request, form, delete) is not None:
        messages.success(request, _("The list %(name)s was deleted.") % {"name": name})
        return redirect("console:home")
    return render(
        request,
        "mailing/list_delete.html",
        list_context(request, mailing_list, form=form, member_total=mailing_list.members.count(), tab="settings"),
    )
