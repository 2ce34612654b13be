"""Console forms: labels and field checks only; rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mailing.models import Member


class ListForm(forms.Form):
    name = forms.CharField(label=_("List name"), max_length=200)
    local_part = forms.CharField(
        label=_("List address (the part before @)"),
        max_length=64,
        help_text=_("Lower-case letters, digits, '.', '-' and '_'."),
    )
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    subject_tag = forms.CharField(
        label=_("Subject tag"), max_length=64, required=False, help_text=_("Put before each subject, e.g. [PTA].")
    )
    join_requires_confirmation = forms.BooleanField(label=_("Joining by mail needs confirmation"), required=False)
    posts_require_authentication = forms.BooleanField(
        label=_("Posts must pass SPF/DKIM for the sender's domain"), required=False
    )


class ListCreateForm(ListForm):
    sender_address = forms.CharField(
        label=_("First sender address"), max_length=254, help_text=_("Who may post to the list (you can add more).")
    )
    sender_name = forms.CharField(label=_("Sender's name"), max_length=200, required=False)


class ListDeleteForm(forms.Form):
    confirmation = forms.CharField(label=_("Type the list address (before @) to confirm"), max_length=64)


class MemberForm(forms.Form):
    address = forms.CharField(label=_("Mail address"), max_length=254)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)


class MemberImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file (UTF-8 or Shift_JIS)"))


class SenderForm(forms.Form):
    address = forms.CharField(label=_("Sender address"), max_length=254)
    person_name = forms.CharField(
        label=_("Person"), max_length=200, required=False, help_text=_("The same person may have several addresses.")
    )


class AdminAddForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150, required=False)
    email = forms.CharField(label=_("E-mail address"), max_length=254, required=False)


class AdminEditForm(forms.Form):
    email = forms.CharField(label=_("E-mail address"), max_length=254)


STATUS_LABELS = {
    Member.Status.ACTIVE: _("Active"),
    Member.Status.SUSPENDED: _("Suspended"),
    Member.Status.BOUNCING: _("Bouncing"),
}


class PersonForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    note = forms.CharField(
        label=_("Note"), max_length=300, required=False, help_text=_("For example: guardian of 山田 太郎 (2年1組).")
    )


class PersonAddressForm(forms.Form):
    address = forms.CharField(label=_("Mail address"), max_length=254)
    label = forms.CharField(
        label=_("What it is"), max_length=100, required=False, help_text=_("For example: PC, phone, mother, father.")
    )


class PersonCreateForm(PersonForm, PersonAddressForm):
    pass
