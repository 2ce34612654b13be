"""allauth forms with the platform's rules."""

from __future__ import annotations

from allauth.account.forms import ResetPasswordForm
from allauth.account.models import EmailAddress

from accounts import policy


class VerifiedAddressResetPasswordForm(ResetPasswordForm):
    """A password-reset key goes only to an address its owner verified (RELIABILITY.md): allauth would
    also mail an unverified address when no verified one matches (e.g. one added, not yet confirmed)."""

    def clean_email(self) -> str:
        email = super().clean_email()
        verified = set(
            EmailAddress.objects.filter(email__iexact=email, verified=True).values_list("user_id", flat=True)
        )
        self.users = [user for user in self.users if policy.reset_key_may_go_to(user_verified=user.pk in verified)]
        return email
