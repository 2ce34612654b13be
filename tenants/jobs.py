"""Background jobs of organizations: how a service asks for one, and how a job enters its organization.

Every job carries the schema name as its first argument (DESIGN.md) and runs inside `tenant_context`,
which refuses the public schema and schemas that are not an organization's.

Services never import an actor (tasks are leaves, .importlinter): they name it. `job_send_on_commit`
sends after the caller's transaction commits (at once outside a transaction), so a job never looks for
rows that are not committed yet, and a rolled-back change sends nothing. The actors are found by name
on the broker; a process that has not declared them yet imports every app's `tasks` first, the way
Django discovers apps' admin modules.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import logging
import pkgutil
from collections.abc import Callable, Iterator

import dramatiq
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_context
from dramatiq.errors import ActorNotFound

from tenants.errors import TenantsError
from tenants.models import Organization

logger = logging.getLogger(__name__)

JobArgument = str | int  # payloads are JSON scalars (ids), never objects or raw MIME (STYLE.md 4)


class TenantJobError(TenantsError):
    """A job was asked to run outside an organization's schema."""


@contextlib.contextmanager
def tenant_context(schema_name: str) -> Iterator[None]:
    """Run the body in the organization's schema, with `connection.tenant` set to the organization."""
    if schema_name in {settings.PUBLIC_SCHEMA_NAME, settings.TENANT_TEMPLATE_SCHEMA}:
        raise TenantJobError(f"refusing to run a tenant job in the {schema_name!r} schema")
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        organization = Organization.objects.filter(schema_name=schema_name).first()
    if organization is None:
        raise TenantJobError(f"no organization has the schema {schema_name!r}")
    with schema_context(schema_name):
        connection.tenant = organization  # so services can read the organization (domain, time zone)
        yield


def actors_import() -> list[str]:
    """Import every installed app's `tasks` module (and a `tasks` package's modules), declaring their
    actors on the broker; returns the module names. The worker calls it at start; `job_send` when a
    process sends a job it has not declared yet."""
    imported = []
    for config in apps.get_app_configs():
        name = f"{config.name}.tasks"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        imported.append(name)
        for submodule in pkgutil.iter_modules(getattr(module, "__path__", [])):
            imported.append(importlib.import_module(f"{name}.{submodule.name}").__name__)
    return imported


def _actor(actor_name: str) -> dramatiq.Actor:
    broker = dramatiq.get_broker()
    try:
        return broker.get_actor(actor_name)
    except ActorNotFound:
        actors_import()
        return broker.get_actor(actor_name)


def job_send(actor_name: str, *args: JobArgument) -> None:
    """Send the job now: for code that runs after the commit already (an on_commit callback, a job)."""
    _actor(actor_name).send(*args)


def job_send_on_commit(actor_name: str, *args: JobArgument, robust: bool = False) -> None:
    """Send the job once the current transaction commits (at once when there is none).

    `robust`: a broker failure after the commit is logged, not raised (send_failure_logged), for callers
    whose committed work must not look failed. Otherwise the failure reaches the caller, after its commit.
    """
    send = functools.partial(job_send, actor_name, *args)
    transaction.on_commit(send_failure_logged(send, actor=actor_name, job_args=list(args)) if robust else send)


def send_failure_logged(send: Callable[[], None], **log_fields: object) -> Callable[[], None]:
    """`send`, with a failure logged (with `log_fields`) instead of raised: for a send after a commit
    whose work is found again without it, e.g. by a sweeper (RELIABILITY.md's transactional outbox)."""

    def run() -> None:
        try:
            send()
        except Exception:
            logger.exception("enqueue after commit failed", extra=log_fields)

    return run
