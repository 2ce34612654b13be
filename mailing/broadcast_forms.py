"""Forms of the broadcast pages: compose (F7, F9, F10), schedule (F11), history search (F8)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mailing.models import Broadcast
from mailing.services.web_broadcasts import MAX_QUESTIONS, QuestionInput

QUESTION_SLOTS = 5  # shown on the page; the service allows up to MAX_QUESTIONS
assert QUESTION_SLOTS <= MAX_QUESTIONS
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs) -> None:
        super().__init__(format=DATETIME_LOCAL, **kwargs)


def _datetime_field(label, required: bool) -> forms.DateTimeField:
    # In the organization's time zone (ConsoleMiddleware activates it), as the person reads the clock.
    return forms.DateTimeField(
        label=label, required=required, widget=DateTimeLocalInput(), input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"]
    )


class BroadcastComposeForm(forms.Form):
    lists = forms.MultipleChoiceField(
        label=_("Send to"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A person on several of these lists gets one copy."),
    )
    subject = forms.CharField(label=_("Subject"), max_length=998)
    body_text = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 12}), max_length=100_000)
    read_confirmation = forms.BooleanField(
        label=_("Ask for read confirmation"),
        required=False,
        help_text=_("The message ends with a personal link; the recipient confirms on its page with one button."),
    )
    survey_deadline = _datetime_field(_("Survey deadline (optional)"), required=False)
    survey_allow_comment = forms.BooleanField(label=_("Allow a comment with each answer"), required=False)

    def __init__(self, *args, list_choices: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lists"].choices = [(str(pk), name) for pk, name in list_choices]
        for slot in range(1, QUESTION_SLOTS + 1):
            self.fields[f"question_{slot}"] = forms.CharField(
                label=_("Question %(number)d") % {"number": slot}, required=False, max_length=500
            )
            self.fields[f"choices_{slot}"] = forms.CharField(
                label=_("Choices of question %(number)d (one per line)") % {"number": slot},
                required=False,
                widget=forms.Textarea(attrs={"rows": 4}),
            )

    def question_slots(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"question_{slot}"], self[f"choices_{slot}"]) for slot in range(1, QUESTION_SLOTS + 1)]

    def questions(self) -> list[QuestionInput]:
        data = self.cleaned_data
        return [
            QuestionInput(
                text=data.get(f"question_{slot}", ""),
                choices=tuple(line.strip() for line in data.get(f"choices_{slot}", "").splitlines() if line.strip()),
            )
            for slot in range(1, QUESTION_SLOTS + 1)
        ]

    @staticmethod
    def initial_from(broadcast: Broadcast, *, list_ids: list[int], survey, read_confirmation: bool) -> dict:
        initial = {
            "lists": [str(pk) for pk in list_ids],
            "subject": broadcast.subject,
            "body_text": broadcast.body_text,
            "read_confirmation": read_confirmation,
        }
        if survey is not None:
            initial["survey_deadline"] = survey.deadline
            initial["survey_allow_comment"] = survey.allow_comment
            for slot, question in enumerate(survey.questions.prefetch_related("choices"), start=1):
                initial[f"question_{slot}"] = question.text
                initial[f"choices_{slot}"] = "\n".join(choice.label for choice in question.choices.all())
        return initial


class BroadcastScheduleForm(forms.Form):
    at = _datetime_field(_("Send at"), required=True)


class HistorySearchForm(forms.Form):
    q = forms.CharField(label=_("Text"), required=False, max_length=200)
    sender = forms.CharField(label=_("Sender"), required=False, max_length=254)
    list = forms.TypedChoiceField(label=_("List"), required=False, coerce=int, empty_value=None)
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=[("", _("All")), ("mail", _("Mail")), ("web", _("Console"))],
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, list_choices: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["list"].choices = [("", _("All lists")), *list_choices]
