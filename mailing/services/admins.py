"""Writes for list admins (F5). A list always keeps at least one admin."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.services import user_email_set, user_invite
from audit.services import audit_record
from mailing.errors import MailingUserError
from mailing.models import ListAdmin, MailingList
from mailing.services.members import address_validate


def _user_find_or_invite(*, username: str, email: str) -> tuple[Any, bool]:
    username = username.strip()
    email = email.strip()
    if not username and not email:
        raise MailingUserError(_("Give a user name or an e-mail address."))
    user_model = get_user_model()
    query = Q()
    if username:
        query |= Q(username__iexact=username)
    if email:
        query |= Q(email__iexact=email)
    found = list(user_model.objects.filter(query)[:2])
    if len(found) == 1:
        return found[0], False
    if len(found) > 1:
        raise MailingUserError(_("The user name and the e-mail address belong to different users."))
    if not username or not email:
        raise MailingUserError(_("No such user: give both a user name and an e-mail address to invite a new one."))
    email = address_validate(email)
    return user_invite(username=username, email=email), True


@transaction.atomic
def list_admin_add(
    *, mailing_list: MailingList, username: str = "", email: str = "", actor: Any = None
) -> tuple[ListAdmin, bool]:
    """Make a user (found by user name or e-mail, or invited) an admin of the list.

    Returns the role and whether a new user was invited (the caller sends them the set-password mail)."""
    user, invited = _user_find_or_invite(username=username, email=email)
    admin, created = ListAdmin.objects.get_or_create(mailing_list=mailing_list, user=user)
    if not created:
        raise MailingUserError(_("%(user)s is already an admin of this list.") % {"user": user.get_username()})
    audit_record(
        actor=actor,
        action="admin.add",
        obj=admin,
        object_label=user.get_username(),
        mailing_list_id=mailing_list.pk,
        after={"user": user.get_username(), "email": user.email, "invited": invited},
    )
    return admin, invited


@transaction.atomic
def list_admin_update(*, admin: ListAdmin, email: str, actor: Any = None) -> ListAdmin:
    """Change the admin's e-mail address (where their password-reset mail goes)."""
    email = address_validate(email)
    user = admin.user
    if get_user_model().objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
        raise MailingUserError(_("%(email)s belongs to another user.") % {"email": email})
    before = {"user": user.get_username(), "email": user.email}
    user_email_set(user=user, email=email)
    audit_record(
        actor=actor,
        action="admin.update",
        obj=admin,
        object_label=user.get_username(),
        mailing_list_id=admin.mailing_list_id,
        before=before,
        after={"user": user.get_username(), "email": email},
    )
    return admin


@transaction.atomic
def list_admin_remove(*, admin: ListAdmin, actor: Any = None) -> None:
    """Remove an admin from the list, unless they are its last one."""
    MailingList.objects.select_for_update().get(pk=admin.mailing_list_id)
    if ListAdmin.objects.filter(mailing_list_id=admin.mailing_list_id).count() <= 1:
        raise MailingUserError(
            _("%(user)s is the list's only admin and cannot be removed: add another admin first.")
            % {"user": admin.user.get_username()}
        )
    audit_record(
        actor=actor,
        action="admin.remove",
        obj=admin,
        object_label=admin.user.get_username(),
        mailing_list_id=admin.mailing_list_id,
        before={"user": admin.user.get_username(), "email": admin.user.email},
    )
    admin.delete()


def console_user_find_or_invite(*, username: str, email: str) -> tuple[Any, bool]:
    """A console user found by user name or e-mail, or invited when both are new (other apps' roles,
    e.g. org_groups' group admins, appoint people the same way list admins are appointed)."""
    return _user_find_or_invite(username=username, email=email)
