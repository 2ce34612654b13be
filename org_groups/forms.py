"""Console forms for groups, moves/copies and the rollover: labels and field checks only."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from org_groups.models import MemberTransfer, Rollover


class GroupForm(forms.Form):
    name = forms.CharField(label=_("Group name"), max_length=200)
    parent = forms.TypedChoiceField(label=_("Under"), coerce=int, required=False, empty_value=None)
    mailing_list = forms.TypedChoiceField(label=_("List of this group"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, parents: list[tuple[int, str]], lists: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", _("(top level)")), *parents]
        self.fields["mailing_list"].choices = [("", _("(no list)")), *lists]


class GroupAdminForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150, required=False)
    email = forms.CharField(label=_("E-mail address"), max_length=254, required=False)


SELECTION_MODES = [
    ("hand", _("The members I ticked")),
    ("filter", _("Every member the search and status filter match")),
    ("all", _("The whole list")),
]


class TransferForm(forms.Form):
    mode = forms.ChoiceField(label=_("Which members"), choices=SELECTION_MODES, widget=forms.RadioSelect)
    kind = forms.ChoiceField(
        label=_("Move or copy"),
        choices=[
            (MemberTransfer.Kind.MOVE, _("Move (they leave this list)")),
            (MemberTransfer.Kind.COPY, _("Copy (they stay on this list too)")),
        ],
        widget=forms.RadioSelect,
    )
    # Any id is accepted here; the view answers 403 to one outside the person's subtree.
    target = forms.IntegerField(label=_("To the list"), widget=forms.Select)

    def __init__(self, *args, targets: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].widget.choices = [("", _("Choose a list")), *targets]


class RolloverForm(forms.Form):
    root = forms.TypedChoiceField(label=_("School (the group whose groups are the grades)"), coerce=int)
    mode = forms.ChoiceField(
        label=_("New classes"),
        choices=[
            (Rollover.Mode.RULE, _("By rule: each class moves to the class with the same letter one grade up")),
            (Rollover.Mode.CSV, _("From a CSV file: address or name, new class")),
        ],
        widget=forms.RadioSelect,
        initial=Rollover.Mode.RULE,
    )
    file = forms.FileField(label=_("CSV file (UTF-8 or Shift_JIS)"), required=False)
    leaving = forms.ChoiceField(
        label=_("The leaving grade"),
        choices=[
            (Rollover.Leaving.ARCHIVE, _("Archive: keep its members in read-only lists")),
            (Rollover.Leaving.REMOVE, _("Remove its members")),
        ],
        widget=forms.RadioSelect,
        initial=Rollover.Leaving.ARCHIVE,
    )
    archive_label = forms.CharField(
        label=_("Name of the archive"),
        max_length=100,
        required=False,
        help_text=_("For example: 2026年度 卒業生. Archive list addresses end with its digits and letters."),
    )

    def __init__(self, *args, roots: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["root"].choices = roots
