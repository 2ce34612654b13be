"""Writes for mailing lists (console): create, change, delete. Each writes an audit event."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record, snapshot
from mailing.addresses import list_local_part_validate
from mailing.errors import MailingUserError
from mailing.models import ListAdmin, MailingList, Sender, address_normalize
from mailing.selectors.routes import route_forget
from mailing.services.members import address_validate, person_name_clean

LIST_FIELDS = [
    "name",
    "local_part",
    "description",
    "subject_tag",
    "join_requires_confirmation",
    "posts_require_authentication",
]


def _name_clean(name: str) -> str:
    name = person_name_clean(name)
    if not name:
        raise MailingUserError(_("Give the list a name."))
    return name


def _subject_tag_clean(tag: str) -> str:
    # The tag goes into Subject headers: no control characters (CR/LF would start a new header).
    return person_name_clean(tag)[:64]


def _routes_forget_on_commit(*local_parts: str) -> None:
    """Drop the MX's cached routes for these list addresses (under every domain of the organization).

    Without this a list created a moment ago stays refused until the cached "no such list" expires,
    and a renamed or deleted list keeps receiving mail until its cached route does.
    """
    domains = list(connection.tenant.domains.values_list("domain", flat=True))

    def forget() -> None:
        for domain in domains:
            for local_part in local_parts:
                route_forget(domain, local_part)

    transaction.on_commit(forget)


@transaction.atomic
def list_create(
    *,
    name: str,
    local_part: str,
    admin_user: Any,
    sender_address: str,
    sender_name: str = "",
    description: str = "",
    subject_tag: str = "",
    join_requires_confirmation: bool = False,
    posts_require_authentication: bool = False,
    actor: Any = None,
) -> MailingList:
    """A new list with its first admin and first sender (a list always has at least one of each, F5)."""

    local_part = list_local_part_validate(local_part)
    sender_address = address_validate(sender_address)
    try:
        with transaction.atomic():
            mailing_list = MailingList.objects.create(
                name=_name_clean(name),
                local_part=local_part,
                description=description.strip(),
                subject_tag=_subject_tag_clean(subject_tag),
                join_requires_confirmation=join_requires_confirmation,
                posts_require_authentication=posts_require_authentication,
            )
    except IntegrityError as error:
        raise MailingUserError(
            _("The list address %(local_part)s is already taken.") % {"local_part": local_part}
        ) from error
    admin = ListAdmin.objects.create(mailing_list=mailing_list, user=admin_user)
    sender = Sender.objects.create(
        mailing_list=mailing_list,
        address=sender_address,
        address_normalized=address_normalize(sender_address),
        person_name=person_name_clean(sender_name),
    )
    audit_record(
        actor=actor,
        action="list.create",
        obj=mailing_list,
        mailing_list_id=mailing_list.pk,
        after=snapshot(mailing_list, LIST_FIELDS) | {"admin": admin.user.get_username(), "sender": sender.address},
    )
    _routes_forget_on_commit(mailing_list.local_part)
    return mailing_list


@transaction.atomic
def list_update(
    *,
    mailing_list: MailingList,
    name: str,
    local_part: str,
    description: str = "",
    subject_tag: str = "",
    join_requires_confirmation: bool = False,
    posts_require_authentication: bool = False,
    actor: Any = None,
) -> MailingList:
    before = snapshot(mailing_list, LIST_FIELDS)
    mailing_list.name = _name_clean(name)
    mailing_list.local_part = list_local_part_validate(local_part)
    mailing_list.description = description.strip()
    mailing_list.subject_tag = _subject_tag_clean(subject_tag)
    mailing_list.join_requires_confirmation = join_requires_confirmation
    mailing_list.posts_require_authentication = posts_require_authentication
    try:
        with transaction.atomic():
            mailing_list.save()
    except IntegrityError as error:
        raise MailingUserError(
            _("The list address %(local_part)s is already taken.") % {"local_part": mailing_list.local_part}
        ) from error
    audit_record(
        actor=actor,
        action="list.update",
        obj=mailing_list,
        mailing_list_id=mailing_list.pk,
        before=before,
        after=snapshot(mailing_list, LIST_FIELDS),
    )
    _routes_forget_on_commit(before["local_part"], mailing_list.local_part)
    return mailing_list


@transaction.atomic
def list_delete(*, mailing_list: MailingList, confirmation: str, actor: Any = None) -> None:
    """Delete a list with its members, senders and admins. The person types the list address to confirm."""
    if confirmation.strip().lower() != mailing_list.local_part:
        raise MailingUserError(_("Type the list address exactly to confirm the deletion."))
    before = snapshot(mailing_list, LIST_FIELDS) | {"members": mailing_list.members.count()}
    audit_record(actor=actor, action="list.delete", obj=mailing_list, mailing_list_id=mailing_list.pk, before=before)
    local_part = mailing_list.local_part
    try:
        with transaction.atomic():
            mailing_list.delete()
    except ProtectedError as error:
        raise MailingUserError(
            _("This list has a send history and cannot be deleted; remove its members instead.")
        ) from error
    _routes_forget_on_commit(local_part)


@transaction.atomic
def list_archive_create(*, like: MailingList, name: str, local_part: str, actor: Any = None) -> MailingList:
    """A new read-only list to keep members in (the yearly rollover's archive of a leaving class).

    It has the admins and senders of `like` (a list always keeps at least one of each, and the class
    teacher should still see the archive), takes no mail and no member changes."""
    local_part = list_local_part_validate(local_part)
    try:
        with transaction.atomic():
            archive = MailingList.objects.create(
                name=_name_clean(name),
                local_part=local_part,
                description=like.description,
                subject_tag=like.subject_tag,
                archived_at=timezone.now(),
            )
    except IntegrityError as error:
        raise MailingUserError(
            _("The list address %(local_part)s is already taken.") % {"local_part": local_part}
        ) from error
    ListAdmin.objects.bulk_create(
        ListAdmin(mailing_list=archive, user_id=user_id) for user_id in like.admins.values_list("user_id", flat=True)
    )
    Sender.objects.bulk_create(
        Sender(
            mailing_list=archive,
            address=sender.address,
            address_normalized=sender.address_normalized,
            person_name=sender.person_name,
        )
        for sender in like.senders.all()
    )
    audit_record(
        actor=actor,
        action="list.archive_create",
        obj=archive,
        mailing_list_id=archive.pk,
        after=snapshot(archive, LIST_FIELDS) | {"like": like.local_part},
    )
    return archive


@transaction.atomic
def list_archive_discard(*, mailing_list: MailingList, actor: Any = None) -> None:
    """Delete an archive list that holds nothing (undoing the rollover that made it)."""
    if mailing_list.archived_at is None or mailing_list.members.exists() or mailing_list.broadcasts.exists():
        raise MailingUserError(_("%(list)s is not an empty archive list; it was kept.") % {"list": mailing_list.name})
    audit_record(
        actor=actor,
        action="list.archive_discard",
        obj=mailing_list,
        mailing_list_id=mailing_list.pk,
        before=snapshot(mailing_list, LIST_FIELDS),
    )
    mailing_list.delete()


def list_local_part_free(*, base: str) -> str:
    """`base`, or `base-2`, `base-3`... whichever no list has yet (for archive lists' addresses)."""
    taken = set(MailingList.objects.filter(local_part__startswith=base).values_list("local_part", flat=True))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"
