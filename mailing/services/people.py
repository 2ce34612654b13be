"""Writes for people with several addresses (a guardian's PC and phone, each parent of a child).

An address belongs to at most one person in an organization (PersonAddress). Every member row with
that address, on any list, carries the person: adding, removing or re-assigning an address updates
those rows at once, and member_add / CSV import / copies pick the person up by address.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit.services import audit_record
from mailing.errors import MailingUserError
from mailing.models import Member, Person, PersonAddress, address_normalize
from mailing.services.members import address_validate, person_name_clean


def _name_clean(name: str) -> str:
    name = person_name_clean(name)
    if not name:
        raise MailingUserError(_("Give the person a name."))
    return name


def _person_snapshot(person: Person) -> dict:
    return {
        "name": person.name,
        "note": person.note,
        "addresses": [[entry.address, entry.label] for entry in person.addresses.order_by("id")],
    }


@transaction.atomic
def person_create(*, name: str, note: str = "", addresses: list[tuple[str, str]] = (), actor: Any = None) -> Person:
    """A new person with their addresses ((address, label) pairs); members with those addresses join them."""
    person = Person.objects.create(name=_name_clean(name), note=person_name_clean(note)[:300])
    for address, label in addresses:
        _address_attach(person=person, address=address, label=label)
    audit_record(actor=actor, action="person.create", obj=person, after=_person_snapshot(person))
    return person


@transaction.atomic
def person_update(*, person: Person, name: str, note: str = "", actor: Any = None) -> Person:
    before = _person_snapshot(person)
    person.name = _name_clean(name)
    person.note = person_name_clean(note)[:300]
    person.save(update_fields=["name", "note", "updated_at"])
    audit_record(actor=actor, action="person.update", obj=person, before=before, after=_person_snapshot(person))
    return person


def _address_attach(*, person: Person, address: str, label: str) -> PersonAddress:
    address = address_validate(address)
    key = address_normalize(address)
    holder = PersonAddress.objects.filter(address_normalized=key).select_related("person").first()
    if holder is not None:
        raise MailingUserError(
            _("%(address)s already belongs to %(person)s.") % {"address": address, "person": holder.person.name}
        )
    try:
        with transaction.atomic():
            entry = PersonAddress.objects.create(
                person=person, address=address, address_normalized=key, label=person_name_clean(label)[:100]
            )
    except IntegrityError as error:  # somebody attached it a moment ago
        raise MailingUserError(_("%(address)s already belongs to someone.") % {"address": address}) from error
    Member.objects.filter(address_normalized=key).update(person=person)
    return entry


@transaction.atomic
def person_address_add(*, person: Person, address: str, label: str = "", actor: Any = None) -> PersonAddress:
    """Give a person another address (their phone, a second guardian's); every member row with it follows."""
    before = _person_snapshot(person)
    entry = _address_attach(person=person, address=address, label=label)
    audit_record(actor=actor, action="person.address_add", obj=person, before=before, after=_person_snapshot(person))
    return entry


@transaction.atomic
def person_address_remove(*, person_address: PersonAddress, actor: Any = None) -> None:
    """Take an address from its person; its member rows stay on their lists, without the person."""
    person = person_address.person
    before = _person_snapshot(person)
    Member.objects.filter(address_normalized=person_address.address_normalized, person=person).update(person=None)
    person_address.delete()
    audit_record(actor=actor, action="person.address_remove", obj=person, before=before, after=_person_snapshot(person))


@transaction.atomic
def person_delete(*, person: Person, actor: Any = None) -> None:
    """Forget a person; their addresses stay members of their lists."""
    audit_record(actor=actor, action="person.delete", obj=person, before=_person_snapshot(person))
    Member.objects.filter(person=person).update(person=None)
    person.delete()
