"""Finding every app's actors, for the worker and for tests that run a worker in-process."""

from __future__ import annotations

import importlib
import importlib.util

from django.apps import apps


def import_all_actors() -> list[str]:
    """Import `<app>.tasks` for every installed app that has one; return the module names."""
    imported = []
    for config in apps.get_app_configs():
        name = f"{config.name}.tasks"
        if config.name != "saas_platform" and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            imported.append(name)
    return imported
