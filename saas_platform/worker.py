"""Entry point for `dramatiq saas_platform.worker`: set Django up, then import every app's actors."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas_platform.settings")
django.setup()

from saas_platform.tasks import import_all_actors  # noqa: E402

import_all_actors()
