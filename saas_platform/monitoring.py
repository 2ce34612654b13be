"""Error reporting: Sentry for the web, the MX and the workers, when SENTRY_DSN is set."""

from __future__ import annotations

from django.conf import settings


def sentry_init() -> bool:
    if not settings.SENTRY_DSN:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.dramatiq import DramatiqIntegration

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        integrations=[DjangoIntegration(), DramatiqIntegration()],
        send_default_pii=False,  # member addresses are personal data
        traces_sample_rate=0.0,
    )
    return True
