from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from mailing.errors import MailingUserError
from mailing.forms import SenderForm
from mailing.models import Sender
from mailing.services import senders as sender_services
from mailing.views.common import address_row_edit, form_saved, list_context, list_for_user


@login_required
@require_http_methods(["GET", "POST"])
def sender_list(request: HttpRequest, list_id: int) -> HttpResponse:
    """The list's sender addresses, grouped by person, with the form to add one."""
    mailing_list = list_for_user(request.user, list_id)
    form = SenderForm(request.POST or None)
    sender = form_saved(
        request, form, lambda data: sender_services.sender_add(mailing_list=mailing_list, actor=request.user, **data)
    )
    if sender is not None:
        messages.success(request, _("%(address)s may now post to the list.") % {"address": sender.address})
        return redirect("console:sender_list", list_id=mailing_list.pk)
    senders = mailing_list.senders.order_by("person_name", "address_normalized")
    return render(
        request, "mailing/senders.html", list_context(request, mailing_list, form=form, senders=senders, tab="senders")
    )


@login_required
@require_http_methods(["GET", "POST"])
def sender_edit(request: HttpRequest, list_id: int, sender_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    sender = get_object_or_404(Sender, pk=sender_id, mailing_list=mailing_list)
    form = SenderForm(request.POST or None, initial={"address": sender.address, "person_name": sender.person_name})
    return address_row_edit(
        request,
        mailing_list,
        sender,
        form,
        lambda data: sender_services.sender_update(sender=sender, actor=request.user, **data),
        page="sender",
    )


@login_required
@require_POST
def sender_delete(request: HttpRequest, list_id: int, sender_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    sender = get_object_or_404(Sender, pk=sender_id, mailing_list=mailing_list)
    try:
        sender_services.sender_remove(sender=sender, actor=request.user)
    except MailingUserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("%(address)s was removed.") % {"address": sender.address})
    return redirect("console:sender_list", list_id=mailing_list.pk)
