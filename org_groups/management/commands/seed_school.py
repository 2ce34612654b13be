"""`manage.py seed_school [--slug demo] [--grades 6] [--classes 4] [--per-class 20]`: a school to try the
groups pages on: grades and classes with a list each (`sakura-<grade>-<class>@`), members with Japanese
names and carrier addresses, and guardians with two addresses. Does nothing if the school is there."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_tenants.utils import schema_context

from mailing.models import MailingList, Member, Person, PersonAddress, address_normalize
from org_groups.models import Group
from tenants.selectors import organization_get_by_slug

SCHOOL_NAME = "市立さくら小学校 (デモ)"
SURNAMES = ["山田", "鈴木", "佐藤", "田中", "高橋", "伊藤", "渡辺", "中村", "小林", "加藤"]
GIVEN = ["太郎", "花子", "次郎", "美咲", "翔太", "陽菜", "健", "さくら"]
DOMAINS = ["docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "gmail.com", "example.co.jp"]


def _address(n: int) -> str:
    domain = DOMAINS[n % len(DOMAINS)]
    local = f"hogosha..{n}" if domain in {"docomo.ne.jp", "ezweb.ne.jp"} else f"hogosha{n}"
    return f"{local}@{domain}"


class Command(BaseCommand):
    help = "Seed a school (grades, classes, lists, members, guardians with two addresses) into an organization."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--slug", default="demo")
        parser.add_argument("--grades", type=int, default=6)
        parser.add_argument("--classes", type=int, default=4)
        parser.add_argument("--per-class", type=int, default=20)

    def handle(self, *args, slug: str, grades: int, classes: int, per_class: int, **options) -> None:
        organization = organization_get_by_slug(slug=slug)
        if organization is None:
            raise CommandError(f"no organization {slug!r}")
        with schema_context(organization.schema_name), transaction.atomic():
            if Group.objects.filter(name=SCHOOL_NAME, parent=None).exists():
                self.stdout.write(f"{SCHOOL_NAME} is already there")
                return
            school = Group.objects.create(name=SCHOOL_NAME, position=Group.objects.filter(parent=None).count())
            serial = 0
            for g in range(1, grades + 1):
                grade = Group.objects.create(name=f"{g}年", parent=school, position=g)
                for c in range(1, classes + 1):
                    class_list = MailingList.objects.create(name=f"{g}年{c}組", local_part=f"sakura-{g}-{c}")
                    Group.objects.create(name=f"{g}年{c}組", parent=grade, position=c, mailing_list=class_list)
                    Member.objects.bulk_create(
                        Member(
                            mailing_list=class_list,
                            address=_address(n),
                            address_normalized=address_normalize(_address(n)),
                            name=f"{SURNAMES[n % len(SURNAMES)]} {GIVEN[n % len(GIVEN)]}の保護者",
                            source=Member.Source.IMPORT,
                        )
                        for n in range(serial, serial + per_class)
                    )
                    serial += per_class
                    # One guardian per class with a second (phone) address, as one person.
                    first = Member.objects.filter(mailing_list=class_list).order_by("id").first()
                    if first is not None:
                        person = Person.objects.create(name=first.name)
                        phone = f"keitai..{g}.{c}@docomo.ne.jp"
                        for address, label in ((first.address, "PC"), (phone, "携帯")):
                            PersonAddress.objects.create(
                                person=person,
                                address=address,
                                address_normalized=address_normalize(address),
                                label=label,
                            )
                        Member.objects.filter(pk=first.pk).update(person=person)
                        Member.objects.create(
                            mailing_list=class_list,
                            address=phone,
                            address_normalized=address_normalize(phone),
                            name=first.name,
                            person=person,
                        )
        self.stdout.write(f"{SCHOOL_NAME}: {grades} grades x {classes} classes, {serial} members and guardians")
