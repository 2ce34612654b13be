from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Who changed what in an organization's console, with before and after (issue 4)."""

    name = "audit"
    verbose_name = "Audit log"
