"""What the console's list pages share: the list a person may manage, the page context, form saving."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.db import connection
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts import policy
from accounts.selectors import User
from mailing.addresses import join_address, leave_address, list_address
from mailing.errors import MailingUserError
from mailing.models import Broadcast, MailingList
from mailing.selectors.broadcasts import broadcast_list_ids

Saved = TypeVar("Saved")


def organization_domain() -> str:
    return connection.tenant.get_primary_domain().domain


def list_for_user(user: User, list_id: int) -> MailingList:
    """The list, if it exists here (else 404) and the user may manage it (else 403)."""
    try:
        mailing_list = MailingList.objects.get(pk=list_id)
    except MailingList.DoesNotExist as error:
        raise Http404 from error
    if not policy.list_can_manage(user, mailing_list.pk):
        raise PermissionDenied
    return mailing_list


def list_context(request: HttpRequest, mailing_list: MailingList, **extra) -> dict:
    domain = organization_domain()
    return {
        "mailing_list": mailing_list,
        "list_address": list_address(mailing_list.local_part, domain),
        "join_address": join_address(mailing_list.local_part, domain),
        "leave_address": leave_address(mailing_list.local_part, domain),
        "domain": domain,
        "can_delete_list": policy.list_can_delete(request.user, mailing_list.pk),
        **extra,
    }


def broadcast_for_user(user: User, broadcast_id: int) -> Broadcast:
    """The broadcast, if it exists here (else 404) and the user manages every list it went to (else 403)."""
    broadcast = Broadcast.objects.select_related("mailing_list").filter(pk=broadcast_id).first()
    if broadcast is None:
        raise Http404
    if not policy.broadcast_can_view(user, broadcast_list_ids(broadcast.pk)):
        raise PermissionDenied
    return broadcast


def form_saved(request: HttpRequest, form: forms.Form, save: Callable[[dict], Saved]) -> Saved | None:
    """When a valid form was posted, `save(form.cleaned_data)` (a service call) and return its result.
    None: show the form (again); a MailingUserError from the service is shown as the form's error."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        return save(form.cleaned_data)
    except MailingUserError as error:
        form.add_error(None, str(error))
        return None


def address_row_edit(
    request: HttpRequest,
    mailing_list: MailingList,
    row: Model,
    form: forms.Form,
    update: Callable[[dict], object],
    *,
    page: str,
) -> HttpResponse:
    """The edit page of an address on a list, `page` "member" or "sender": `update` saves the form's
    data (a service), then back to the list's table; else the form, with the service's error if any.
    The page's URL name, template, tab and context variable follow from `page`."""
    if form_saved(request, form, update) is not None:
        messages.success(request, _("%(address)s was saved.") % {"address": row.address})
        return redirect(f"console:{page}_list", list_id=mailing_list.pk)
    context = list_context(request, mailing_list, form=form, tab=f"{page}s", **{page: row})
    return render(request, f"mailing/{page}_form.html", context)


_ASCII_ID = re.compile(r"[0-9]{1,18}")  # a bigint; ASCII only


def ids_from(values: Iterable[str]) -> list[int]:
    """Ids sent by the console's own forms and links. str.isdigit() is true for "²" and "①",
    which int() refuses (and int() reads Arabic-Indic digits too): anything but ASCII digits is a bad request (400)."""
    ids = []
    for value in values:
        if not _ASCII_ID.fullmatch(value):
            raise BadRequest("an id must be written with the digits 0-9")
        ids.append(int(value))
    return ids
