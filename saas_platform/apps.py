from __future__ import annotations

from django.apps import AppConfig

from saas_platform import broker, monitoring


class SaasPlatformConfig(AppConfig):
    name = "saas_platform"
    verbose_name = "Platform"

    def ready(self) -> None:
        monitoring.sentry_init()
        broker.broker_setup()
