from __future__ import annotations

from allauth.account.forms import ResetPasswordForm
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from mailing.errors import MailingUserError
from mailing.forms import AdminAddForm
from mailing.models import ListAdmin
from mailing.services import admins as admin_services
from mailing.views.common import form_saved, list_context, list_for_user


def _invitation_send(request: HttpRequest, email: str) -> None:
    """A new admin sets their own password through allauth's password-reset mail."""
    form = ResetPasswordForm(data={"email": email})
    if form.is_valid():
        form.save(request)


@login_required
@require_http_methods(["GET", "POST"])
def admin_list(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    form = AdminAddForm(request.POST or None)
    added = form_saved(
        request, form, lambda data: admin_services.list_admin_add(mailing_list=mailing_list, actor=request.user, **data)
    )
    if added is not None:
        admin, invited = added
        if invited:
            email = admin.user.email
            transaction.on_commit(lambda: _invitation_send(request, email))
            messages.success(
                request,
                _("%(user)s was invited: a mail to set a password went to %(email)s.")
                % {"user": admin.user.get_username(), "email": email},
            )
        else:
            messages.success(request, _("%(user)s is now an admin.") % {"user": admin.user.get_username()})
        return redirect("console:admin_list", list_id=mailing_list.pk)
    admins = list(mailing_list.admins.select_related("user").order_by("user__username"))
    for admin in admins:
        admin.can_remove = policy.admin_role_can_remove(request.user, list_id=mailing_list.pk, target=admin.user)
        admin.is_self = admin.user_id == request.user.pk
    return render(
        request, "mailing/admins.html", list_context(request, mailing_list, form=form, admins=admins, tab="admins")
    )


@login_required
@require_POST
def admin_delete(request: HttpRequest, list_id: int, admin_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    admin = get_object_or_404(ListAdmin.objects.select_related("user"), pk=admin_id, mailing_list=mailing_list)
    policy.require(policy.admin_role_can_remove(request.user, list_id=mailing_list.pk, target=admin.user))
    try:
        admin_services.list_admin_remove(admin=admin, actor=request.user)
    except MailingUserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("%(user)s is no longer an admin.") % {"user": admin.user.get_username()})
    return redirect("console:admin_list", list_id=mailing_list.pk)
