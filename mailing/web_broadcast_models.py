"""What a broadcast composed in the console carries beyond `mailing.Broadcast` (F7, F9, F10, F11).

Imported by `mailing.models`, so these are models of the mailing app (tables in each organization's
schema). A web broadcast is a `Broadcast` (channel web; subject, body, author, state, scheduled_at)
plus a `WebBroadcast` row: the lists it goes to (one copy per address across them), its options and,
for a follow-up ("send again to those who have not confirmed", a survey reminder), the broadcast it
follows. Follow-ups carry the first broadcast's read confirmation and survey: a recipient's
confirmation or answer is recorded against their delivery of the first broadcast whichever mail's
link they used, so the results stay one table.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# Related models by name: mailing.models imports this module, not the other way round.
Broadcast = "mailing.Broadcast"
Delivery = "mailing.Delivery"
MailingList = "mailing.MailingList"


class WebBroadcast(models.Model):
    class FollowUp(models.TextChoices):
        NONE = "", _("none")
        UNCONFIRMED = "unconfirmed", _("unconfirmed")  # to the first broadcast's recipients without a confirmation
        SURVEY_REMINDER = "survey_reminder", _("survey reminder")  # to those who have not answered every question

    broadcast = models.OneToOneField(Broadcast, primary_key=True, on_delete=models.CASCADE, related_name="web")
    # Every list it goes to, the broadcast's own `mailing_list` (the first chosen: From, List-Id) included.
    lists = models.ManyToManyField(MailingList, related_name="web_broadcasts")
    read_confirmation = models.BooleanField(default=False)
    follow_up_of = models.ForeignKey(
        Broadcast, null=True, blank=True, on_delete=models.CASCADE, related_name="follow_ups"
    )
    follow_up_kind = models.CharField(max_length=16, choices=FollowUp.choices, blank=True, default="")
    # A scheduled broadcast that came due while nothing ran (the scheduler was down) and started this
    # many seconds after its time; None when it started on time (BROADCAST_LATE_AFTER_SECONDS).
    late_seconds = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def options_broadcast_id(self) -> int:
        """The broadcast whose read confirmation and survey this one carries (itself, or the one it follows)."""
        return self.follow_up_of_id or self.broadcast_id


class BroadcastAttachment(models.Model):
    """A file sent with a web broadcast (kept in the organization's schema, like the mail it becomes)."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127, default="application/octet-stream")
    size = models.PositiveIntegerField()
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class LinkVisit(models.Model):
    """One GET or HEAD of a read-confirmation or survey link. It never counts as a confirmation or an
    answer: mail security gateways fetch links seconds after delivery (some run the page's scripts),
    so only the page's button (a POST) records. The console shows visits as "link opened, not
    confirmed (may be automatic)"."""

    class Kind(models.TextChoices):
        READ = "read", _("read confirmation")
        SURVEY = "survey", _("survey")

    # The recipient: their delivery of the broadcast that carries the options (a follow-up's link
    # counts for the first broadcast); `via_broadcast_id` is the mail whose link was used.
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="link_visits", db_index=False)
    via_broadcast_id = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    choice_id = models.BigIntegerField(null=True, blank=True)
    method = models.CharField(max_length=8)
    visited_at = models.DateTimeField()
    seconds_since_delivery = models.IntegerField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    network = models.CharField(max_length=64, blank=True, default="")  # 203.0.113.0/24, 2001:db8:1::/48

    class Meta:
        indexes = [models.Index(fields=["delivery", "visited_at"], name="link_visit_delivery")]


class ReadConfirmation(models.Model):
    """A recipient pressed the read-confirmation button (F9). One per recipient: the first press counts."""

    delivery = models.OneToOneField(
        Delivery, primary_key=True, on_delete=models.CASCADE, related_name="read_confirmation"
    )
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="read_confirmations")
    via_broadcast_id = models.BigIntegerField()
    confirmed_at = models.DateTimeField()
    seconds_since_delivery = models.IntegerField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    network = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["broadcast", "confirmed_at"], name="read_confirmation_time")]


class Survey(models.Model):
    """The survey of a web broadcast (F10): questions with choices, an optional comment and deadline."""

    broadcast = models.OneToOneField(Broadcast, primary_key=True, on_delete=models.CASCADE, related_name="survey")
    allow_comment = models.BooleanField(default=False)
    deadline = models.DateTimeField(null=True, blank=True)


class SurveyQuestion(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=500)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["survey", "position"], name="survey_question_position")]


class SurveyChoice(models.Model):
    question = models.ForeignKey(SurveyQuestion, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=100)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["question", "position"], name="survey_choice_position")]


class SurveyAnswer(models.Model):
    """A recipient's answer to one question. Answering again overwrites it: the database allows one
    answer per recipient per question (`survey_answer_one_per_recipient`)."""

    question = models.ForeignKey(SurveyQuestion, on_delete=models.CASCADE, related_name="answers")
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="survey_answers", db_index=False)
    choice = models.ForeignKey(SurveyChoice, on_delete=models.CASCADE, related_name="answers")
    comment = models.TextField(blank=True, default="")
    via_broadcast_id = models.BigIntegerField()
    answered_at = models.DateTimeField()
    seconds_since_delivery = models.IntegerField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    network = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question", "delivery"], name="survey_answer_one_per_recipient"),
        ]
        indexes = [models.Index(fields=["delivery"], name="survey_answer_delivery")]
