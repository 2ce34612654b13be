"""Group admins used to hold a set of lists; now they hold a group (and so its subtree).

Each existing group admin gets a group of their own (named as the role was) with one child group per
list they held, so they keep managing exactly those lists. A list can sit in one group only: a list
already placed for an earlier group admin stays there (the later admin loses it, which the log says).
"""

import logging

from django.db import migrations

logger = logging.getLogger(__name__)


def forwards(apps, schema_editor):
    GroupAdmin = apps.get_model("org_groups", "GroupAdmin")
    Group = apps.get_model("org_groups", "Group")
    for role in GroupAdmin.objects.order_by("id"):
        root = Group.objects.create(name=role.name or f"Group {role.pk}")
        for position, mailing_list in enumerate(role.lists.order_by("name", "id")):
            if Group.objects.filter(mailing_list=mailing_list).exists():
                logger.warning("list %s is already in a group: not given to group admin %s", mailing_list.pk, role.pk)
                continue
            Group.objects.create(name=mailing_list.name, parent=root, position=position, mailing_list=mailing_list)
        role.group = root
        role.save(update_fields=["group"])


class Migration(migrations.Migration):

    dependencies = [
        ('org_groups', '0002_group_tree'),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
