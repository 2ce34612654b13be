"""A database of its own for a benchmark, on the server that DATABASE_URL names, dropped afterwards."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@contextlib.contextmanager
def scratch_database(name: str) -> Iterator[None]:
    """Create database `name`, point DATABASE_URL at it, set Django up, and drop it when done.

    Callers set any other environment (DEBUG, PLATFORM_TESTING) before entering.
    """
    admin_url = os.environ["DATABASE_URL"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas_platform.settings")
    import django

    django.setup()
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
