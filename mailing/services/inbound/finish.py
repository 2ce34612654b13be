"""How processing of an inbound message ends: its final state and every reason, recorded in one place."""

from __future__ import annotations

from django.utils import timezone

from mailing.models import InboundMessage


def message_finish(message: InboundMessage, state: str, reasons: list[dict]) -> None:
    """Set the message's final state, append the reasons to its record, and stamp the time."""
    message.state = state
    message.decision_reasons = [*message.decision_reasons, *reasons]
    message.processed_at = timezone.now()
    message.save(update_fields=["state", "decision_reasons", "processed_at"])
