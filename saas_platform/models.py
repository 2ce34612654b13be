"""Platform-wide rows (public schema)."""

from __future__ import annotations

from django.db import models


class OutboundMail(models.Model):
    """A mail sent through Django's e-mail API (password reset, invitations, address verification,
    sign-up) that the relay did not take at once; the scheduler retries it (saas_platform.mail).

    In the public schema, so mail from the platform's own host and from every organization's host
    waits in one place. The content (a reset key, perhaps) is dropped once sent."""

    class State(models.TextChoices):
        QUEUED = "queued", "queued"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"  # refused (5xx) or still undeliverable at the deadline

    envelope_from = models.CharField(max_length=512)
    recipients = models.JSONField(default=list)  # addresses in wire form
    data = models.BinaryField()  # the signed message, CRLF lines
    schema_name = models.CharField(max_length=63, blank=True, default="")  # where it was sent from
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at"], name="outbound_mail_due", condition=models.Q(state="queued"))
        ]
