from __future__ import annotations

from django.db import connection
from django.http import HttpRequest

from accounts import policy
from mailing.addresses import join_address, leave_address, list_address
from mailing.models import MailingList


def organization_domain() -> str:
    return connection.tenant.get_primary_domain().domain


def list_context(request: HttpRequest, mailing_list: MailingList, **extra) -> dict:
    domain = organization_domain()
    return {
        "mailing_list": mailing_list,
        "list_address": list_address(mailing_list.local_part, domain),
        "join_address": join_address(mailing_list.local_part, domain),
        "leave_address": leave_address(mailing_list.local_part, domain),
        "domain": domain,
        "can_delete_list": policy.list_can_delete(request.user, mailing_list),
        **extra,
    }
