from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpRequest

from accounts import policy
from accounts.selectors import User
from mailing.addresses import join_address, leave_address, list_address
from mailing.models import Broadcast, MailingList
from mailing.selectors.broadcasts import broadcast_list_ids


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
