"""The public sign-up form: labels and field checks only; rules live in accounts.signup."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


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
