"""Invitations of new console users: they set their own password through allauth's reset mail."""

from __future__ import annotations

from allauth.account.forms import ResetPasswordForm
from django.http import HttpRequest


def invitation_send(request: HttpRequest, email: str) -> None:
    form = ResetPasswordForm(data={"email": email})
    if form.is_valid():
        form.save(request)
