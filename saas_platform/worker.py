"""Entry point for `dramatiq saas_platform.worker`: set Django up, then import every app's actors."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas_platform.settings")
django.setup()

from saas_platform.tasks import import_all_actors  # noqa: E402

import_all_actors()

# What the actors import when they first run, imported now: otherwise the first post after a worker
# starts waits ~150 ms for the inbound pipeline's modules (dkimpy, dnspython, pyspf, flufl.bounce).
import mailing.services.broadcasts  # noqa: E402
import mailing.services.delivery  # noqa: E402
import mailing.services.inbound.pipeline  # noqa: E402
import mailing.services.notices  # noqa: E402, F401
