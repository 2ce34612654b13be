"""Console users' forms: the public sign-up (rules live in accounts.signup) and allauth forms with the
platform's rules."""

from __future__ import annotations

from allauth.account.forms import ResetPasswordForm
from allauth.account.models import EmailAddress
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts import policy


class SignupForm(forms.Form):
    organization_name = forms.CharField(label=_("Organization name"), max_length=200)
    slug = forms.CharField(
        label=_("Organization id"),
        max_length=40,
        help_text=_("3-40 lower-case letters, digits and hyphens. It becomes the address of your console and lists."),
    )
    username = forms.CharField(label=_("Your user name"), max_length=150)
    email = forms.EmailField(
        label=_("Your e-mail address"), max_length=254, help_text=_("We send a link to confirm it.")
    )
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput(render_value=False))
    password_again = forms.CharField(label=_("Password again"), widget=forms.PasswordInput(render_value=False))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


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
