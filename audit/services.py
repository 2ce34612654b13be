"""Writes for the audit log. Services call `audit_record` inside their own transaction, so a change
and its record commit together or not at all."""

from __future__ import annotations

from typing import Any

from django.db import models

from audit.models import AuditEvent


def _actor_label(actor: Any) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return ""
    return actor.get_username()


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_label: str = "",
    mailing_list_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Record one console change. `actor` is the user who made it (None: the system)."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        actor_label=_actor_label(actor),
        action=action,
        object_type=object_type or (obj._meta.model_name if obj is not None else ""),
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_label=(object_label or (str(obj) if obj is not None else ""))[:300],
        mailing_list_id=mailing_list_id,
        before=before,
        after=after,
    )


def snapshot(obj: models.Model, fields: list[str]) -> dict:
    """The JSON-able values of some fields, for before/after."""
    result = {}
    for field in fields:
        value = getattr(obj, field)
        result[field] = value if isinstance(value, str | int | bool | float | type(None)) else str(value)
    return result
