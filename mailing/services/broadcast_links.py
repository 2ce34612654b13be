"""Writes behind the read-confirmation and survey links (F9, F10).

A GET or HEAD of a link only logs a visit (`link_visit_record`): mail security gateways fetch every
link (Safe Links runs the page's scripts, others fetch in bursts or send HEAD), so nothing they do
may count. The page's button POSTs, and only that records a confirmation or an answer, each with one
indexed write: an INSERT ... ON CONFLICT on the recipient's row (a confirmation keeps its first time;
an answer is overwritten, the database holding one per recipient per question).
"""

from __future__ import annotations

import ipaddress

from django.utils import timezone
from django.utils.translation import gettext as _

from mailing.errors import MailingUserError
from mailing.models import LinkVisit, ReadConfirmation, SurveyAnswer, SurveyChoice
from mailing.selectors.broadcast_links import LinkRecipient

USER_AGENT_MAX = 300
COMMENT_MAX = 2000


def network_prefix(address: str | None) -> str:
    """The visitor's network, not their address: /24 for IPv4, /48 for IPv6 (enough to tell a mail
    gateway's data centre from a home or a phone network, without keeping a person's address)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def link_visit_record(
    *, recipient: LinkRecipient, kind: str, method: str, user_agent: str, remote_address: str | None, choice_id=None
) -> None:
    now = timezone.now()
    LinkVisit.objects.create(
        delivery_id=recipient.delivery_id,
        via_broadcast_id=recipient.via_broadcast_id,
        kind=kind,
        choice_id=choice_id,
        method=method[:8],
        visited_at=now,
        seconds_since_delivery=recipient.seconds_since_delivery(now),
        user_agent=user_agent[:USER_AGENT_MAX],
        network=network_prefix(remote_address),
    )


def read_confirm(*, recipient: LinkRecipient, user_agent: str, remote_address: str | None) -> None:
    """Record the recipient's confirmation; a second press keeps the first time."""
    now = timezone.now()
    ReadConfirmation.objects.bulk_create(
        [
            ReadConfirmation(
                delivery_id=recipient.delivery_id,
                broadcast_id=recipient.broadcast.id,
                via_broadcast_id=recipient.via_broadcast_id,
                confirmed_at=now,
                seconds_since_delivery=recipient.seconds_since_delivery(now),
                user_agent=user_agent[:USER_AGENT_MAX],
                network=network_prefix(remote_address),
            )
        ],
        ignore_conflicts=True,
    )


def survey_answer_record(
    *,
    recipient: LinkRecipient,
    choice: SurveyChoice,
    comment: str,
    deadline,
    user_agent: str,
    remote_address: str | None,
) -> None:
    """Record (or overwrite) the recipient's answer to the choice's question."""
    now = timezone.now()
    if deadline is not None and now > deadline:
        raise MailingUserError(_("Answers to this survey are closed."))
    SurveyAnswer.objects.bulk_create(
        [
            SurveyAnswer(
                question_id=choice.question_id,
                delivery_id=recipient.delivery_id,
                choice_id=choice.id,
                comment=comment.strip()[:COMMENT_MAX],
                via_broadcast_id=recipient.via_broadcast_id,
                answered_at=now,
                seconds_since_delivery=recipient.seconds_since_delivery(now),
                user_agent=user_agent[:USER_AGENT_MAX],
                network=network_prefix(remote_address),
            )
        ],
        update_conflicts=True,
        unique_fields=["question", "delivery"],
        update_fields=[
            "choice",
            "comment",
            "via_broadcast_id",
            "answered_at",
            "seconds_since_delivery",
            "user_agent",
            "network",
        ],
    )
