"""Who may do what in the console: the one place where roles are decided (issue 4).

Roles inside an organization (the organization itself is chosen by the Host header; another
organization's ids simply do not exist in this schema and answer 404):

- organization owner (`Profile.is_owner`): every list, list creation, the audit log, dev mail;
- group admin (`org_groups.GroupAdmin`): the lists of their groups;
- list admin (`mailing.ListAdmin`): their one list.

Every console view asks here; nothing else checks roles.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from mailing.models import MailingList

User = AbstractBaseUser | AnonymousUser


def is_owner(user: User) -> bool:
    if not user.is_authenticated:
        return False
    profile = getattr(user, "profile", None)
    return bool(profile and profile.is_owner)


def lists_managed(user: User) -> QuerySet[MailingList]:
    """The lists this user may manage (members, senders, admins, options)."""
    if not user.is_authenticated:
        return MailingList.objects.none()
    if is_owner(user):
        return MailingList.objects.all()
    return MailingList.objects.filter(pk__in=_managed_list_ids(user))


def _managed_list_ids(user: User) -> set[int]:
    from mailing.models import ListAdmin
    from org_groups.models import GroupAdmin

    ids = set(ListAdmin.objects.filter(user=user).values_list("mailing_list_id", flat=True))
    ids |= set(GroupAdmin.lists.through.objects.filter(groupadmin__user=user).values_list("mailinglist_id", flat=True))
    return ids


def list_can_manage(user: User, mailing_list: MailingList) -> bool:
    if not user.is_authenticated:
        return False
    return is_owner(user) or mailing_list.pk in _managed_list_ids(user)


def list_for_user(user: User, list_id: int) -> MailingList:
    """The list, if it exists here (else 404) and the user may manage it (else 403)."""
    try:
        mailing_list = MailingList.objects.get(pk=list_id)
    except MailingList.DoesNotExist as error:
        raise Http404 from error
    if not list_can_manage(user, mailing_list):
        raise PermissionDenied
    return mailing_list


def list_can_create(user: User) -> bool:
    return is_owner(user)


def list_can_delete(user: User, mailing_list: MailingList) -> bool:
    return is_owner(user)


def audit_can_view(user: User) -> bool:
    return is_owner(user)


def dev_mail_can_view(user: User) -> bool:
    return is_owner(user)


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


# --- Broadcasts (F7-F11) ---------------------------------------------------------------------------


def broadcast_lists_sendable(user: User) -> QuerySet[MailingList]:
    """The lists this user may send a web broadcast to: the lists they manage."""
    return lists_managed(user)


def broadcasts_visible(user: User):
    """Broadcasts whose every list this user manages (the owner: all). A broadcast to two lists shows
    its recipients of both, so an admin of only one of them does not see it."""
    from mailing.models import Broadcast

    if not user.is_authenticated:
        return Broadcast.objects.none()
    if is_owner(user):
        return Broadcast.objects.all()
    managed = _managed_list_ids(user)
    return Broadcast.objects.filter(mailing_list_id__in=managed).exclude(
        web__lists__in=MailingList.objects.exclude(pk__in=managed)
    )


def broadcast_for_user(user: User, broadcast_id: int):
    """The broadcast, if it exists here (else 404) and the user manages every list it went to (else 403)."""
    from mailing.models import Broadcast

    if not Broadcast.objects.filter(pk=broadcast_id).exists():
        raise Http404
    broadcast = broadcasts_visible(user).filter(pk=broadcast_id).select_related("mailing_list").first()
    if broadcast is None:
        raise PermissionDenied
    return broadcast
