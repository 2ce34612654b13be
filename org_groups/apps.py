from django.apps import AppConfig


class OrgGroupsConfig(AppConfig):
    """Groups of lists and group admins (F6); the groups issue builds it."""

    name = "org_groups"
    verbose_name = "Groups"
