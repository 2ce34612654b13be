"""Who may do what in the console: the one place where roles are decided (issue 4).

Roles inside an organization (the organization itself is chosen by the Host header; another
organization's ids simply do not exist in this schema and answer 404):

- organization owner (`Profile.is_owner`): every list, list creation, the audit log, dev mail;
- group admin (`org_groups.GroupAdmin`): every list in the subtree of the groups they administer,
  and moving/copying members among the lists of one such subtree;
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
    from org_groups.selectors import group_admin_list_ids

    ids = set(ListAdmin.objects.filter(user=user).values_list("mailing_list_id", flat=True))
    ids |= group_admin_list_ids(user)  # every list in the subtrees of the groups they administer
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


# --- Groups (org_groups, F6)


def groups_can_edit(user: User) -> bool:
    """Building the group tree and appointing group admins."""
    return is_owner(user)


def transfer_can_use(user: User) -> bool:
    """The move/copy page: owners and group admins."""
    from org_groups.selectors import is_group_admin

    return is_owner(user) or is_group_admin(user)


def transfer_list_ids(user: User) -> list[set[int]]:
    """The sets of lists among which this user may move or copy members: one set per subtree they
    administer (an owner: one set, every list). Source and target must lie in the same set."""
    from org_groups.selectors import group_admin_subtree_list_ids

    if is_owner(user):
        return [set(MailingList.objects.values_list("pk", flat=True))]
    return group_admin_subtree_list_ids(user)


def transfer_targets_for(user: User, source_id: int) -> set[int]:
    """The lists a user may move or copy members of `source_id` into (same subtree, not itself)."""
    targets: set[int] = set()
    for ids in transfer_list_ids(user):
        if source_id in ids:
            targets |= ids
    targets.discard(source_id)
    return targets


def transfer_source_for_user(user: User, list_id: int) -> MailingList:
    """The list as a source of a move or copy (404 if it is not here, 403 if not in the user's subtrees)."""
    try:
        mailing_list = MailingList.objects.get(pk=list_id)
    except MailingList.DoesNotExist as error:
        raise Http404 from error
    if not any(list_id in ids for ids in transfer_list_ids(user)):
        raise PermissionDenied
    return mailing_list


def transfer_can_view(user: User, transfer) -> bool:
    """A move or copy's page: its author while both lists are still theirs, and owners."""
    if is_owner(user):
        return True
    if not user.is_authenticated or transfer.actor_id != user.pk:
        return False
    return any(transfer.source_list_id in ids and transfer.target_list_id in ids for ids in transfer_list_ids(user))


def directory_can_view(user: User) -> bool:
    """The organization-wide directory of people, their addresses and lists."""
    return is_owner(user)


def rollover_can_run(user: User) -> bool:
    return is_owner(user)
