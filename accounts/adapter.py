"""allauth behaviour for organization hosts."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Console users are added by owners and list admins (invitations), never by self-sign-up.
        return False
