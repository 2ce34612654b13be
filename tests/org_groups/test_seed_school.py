"""`manage.py seed_school`: a school to try the groups pages on, once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from mailing.models import Member
from org_groups.management.commands.seed_school import SCHOOL_NAME
from org_groups.models import Group


@pytest.mark.usefixtures("tenant_db")
def test_seed_school_builds_the_tree_once(tenant):
    out = io.StringIO()
    call_command(
        "seed_school", "--slug", tenant.slug, "--grades", "2", "--classes", "2", "--per-class", "3", stdout=out
    )
    connection.set_tenant(tenant)
    school = Group.objects.get(name=SCHOOL_NAME)
    assert [g.name for g in school.children.all()] == ["1年", "2年"]
    assert Member.objects.filter(mailing_list__local_part="sakura-2-1").count() == 4  # 3 + a guardian's phone
    assert Member.objects.filter(mailing_list__local_part="sakura-2-1", person__isnull=False).count() == 2
    call_command("seed_school", "--slug", tenant.slug, stdout=out)
    assert "already there" in out.getvalue()
