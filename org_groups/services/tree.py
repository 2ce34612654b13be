"""Writes for the group tree: owners build it, rename and reorder groups, attach lists, appoint group
admins for a subtree. Each writes an audit event."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from audit.services import audit_record, snapshot
from mailing.errors import MailingUserError
from mailing.selectors.lists import list_get
from mailing.services.admins import console_user_find_or_invite
from mailing.services.members import person_name_clean
from org_groups.errors import OrgGroupsUserError
from org_groups.models import Group, GroupAdmin
from org_groups.selectors import group_subtree_ids

GROUP_FIELDS = ["name", "parent_id", "position", "mailing_list_id"]


def _name_clean(name: str) -> str:
    name = person_name_clean(name)
    if not name:
        raise OrgGroupsUserError(_("Give the group a name."))
    return name


def _list_check(list_id: int | None, group: Group | None = None) -> int | None:
    if list_id is None:
        return None
    mailing_list = list_get(list_id=list_id)
    if mailing_list is None:
        raise OrgGroupsUserError(_("That list does not exist."))
    holder = Group.objects.filter(mailing_list_id=list_id).exclude(pk=group.pk if group else None).first()
    if holder is not None:
        raise OrgGroupsUserError(
            _("%(list)s already belongs to the group %(group)s.") % {"list": mailing_list.name, "group": holder.name}
        )
    return list_id


def _next_position(parent_id: int | None) -> int:
    last = Group.objects.filter(parent_id=parent_id).aggregate(last=Max("position"))["last"]
    return 0 if last is None else last + 1


@transaction.atomic
def group_create(
    *, name: str, parent: Group | None = None, mailing_list_id: int | None = None, actor: Any = None
) -> Group:
    """A new group at the end of its siblings, optionally with a list."""
    if parent is not None and parent.archived_at is not None:
        raise OrgGroupsUserError(_("An archive group takes no new groups."))
    parent_id = parent.pk if parent is not None else None
    try:
        with transaction.atomic():
            group = Group.objects.create(
                name=_name_clean(name),
                parent_id=parent_id,
                position=_next_position(parent_id),
                mailing_list_id=_list_check(mailing_list_id),
            )
    except IntegrityError as error:  # the list was given to another group a moment ago
        raise OrgGroupsUserError(_("That list already belongs to a group.")) from error
    audit_record(
        actor=actor,
        action="group.create",
        obj=group,
        mailing_list_id=group.mailing_list_id,
        after=snapshot(group, GROUP_FIELDS),
    )
    return group


@transaction.atomic
def group_update(
    *, group: Group, name: str, parent: Group | None, mailing_list_id: int | None, actor: Any = None
) -> Group:
    """Rename a group, move it under another parent (never under itself), change its list."""
    group = Group.objects.select_for_update().get(pk=group.pk)
    before = snapshot(group, GROUP_FIELDS)
    parent_id = parent.pk if parent is not None else None
    if parent_id is not None and parent_id in group_subtree_ids(group.pk):
        raise OrgGroupsUserError(_("A group cannot be put under itself or one of its own groups."))
    group.name = _name_clean(name)
    if parent_id != group.parent_id:
        group.parent_id = parent_id
        group.position = _next_position(parent_id)
    group.mailing_list_id = _list_check(mailing_list_id, group)
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError as error:
        raise OrgGroupsUserError(_("That list already belongs to a group.")) from error
    audit_record(
        actor=actor,
        action="group.update",
        obj=group,
        mailing_list_id=group.mailing_list_id,
        before=before,
        after=snapshot(group, GROUP_FIELDS),
    )
    return group


@transaction.atomic
def group_reorder(*, group: Group, direction: str, actor: Any = None) -> Group:
    """Move a group one place up or down among its siblings."""
    if direction not in {"up", "down"}:
        raise OrgGroupsUserError(_("Choose up or down."))
    siblings = list(Group.objects.select_for_update().filter(parent_id=group.parent_id).order_by("position", "id"))
    index = next(i for i, sibling in enumerate(siblings) if sibling.pk == group.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, sibling in enumerate(siblings):
        if sibling.position != position:
            Group.objects.filter(pk=sibling.pk).update(position=position)
    audit_record(
        actor=actor,
        action="group.reorder",
        obj=group,
        after={"order": [sibling.name for sibling in siblings]},
    )
    return Group.objects.get(pk=group.pk)


@transaction.atomic
def group_delete(*, group: Group, actor: Any = None) -> None:
    """Delete a group that has no groups under it. Its list stays (outside any group)."""
    if group.children.exists():
        raise OrgGroupsUserError(_("%(group)s has groups under it: move or delete them first.") % {"group": group.name})
    audit_record(
        actor=actor,
        action="group.delete",
        obj=group,
        mailing_list_id=group.mailing_list_id,
        before=snapshot(group, GROUP_FIELDS) | {"admins": list(group.admins.values_list("user__username", flat=True))},
    )
    group.delete()


@transaction.atomic
def group_admin_appoint(
    *, group: Group, username: str = "", email: str = "", actor: Any = None
) -> tuple[GroupAdmin, bool]:
    """Make a user (found by user name or e-mail, or invited) the admin of a group and its subtree.

    Returns the role and whether a new user was invited (the caller sends the set-password mail)."""
    try:
        user, invited = console_user_find_or_invite(username=username, email=email)
    except MailingUserError as error:
        raise OrgGroupsUserError(str(error)) from error
    role, created = GroupAdmin.objects.get_or_create(group=group, user=user)
    if not created:
        raise OrgGroupsUserError(
            _("%(user)s is already an admin of %(group)s.") % {"user": user.get_username(), "group": group.name}
        )
    audit_record(
        actor=actor,
        action="group.admin_add",
        obj=group,
        object_label=f"{group.name}: {user.get_username()}",
        after={"user": user.get_username(), "group": group.name, "invited": invited},
    )
    return role, invited


@transaction.atomic
def group_admin_remove(*, role: GroupAdmin, actor: Any = None) -> None:
    audit_record(
        actor=actor,
        action="group.admin_remove",
        obj=role.group,
        object_label=f"{role.group.name}: {role.user.get_username()}",
        before={"user": role.user.get_username(), "group": role.group.name},
    )
    role.delete()
