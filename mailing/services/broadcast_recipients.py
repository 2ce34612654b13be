"""Who a broadcast goes to, as an SQL condition on the member row `m` for the fan-out's INSERT ... SELECT
(mailing.services.broadcasts). The plan walks members in id order, so each condition must pick the
same rows whichever chunk asks.

- A mail post, or a web broadcast to one list: that list's active members.
- A web broadcast to several lists: one copy per address (normalized, `Member.address_normalized`):
  of the active members with the same address on the chosen lists, the one with the smallest id.
- A follow-up of a web broadcast: the first broadcast's recipients (members still active) without a
  read confirmation, or without an answer to every question of its survey.
"""

from __future__ import annotations

from django.db import connection

from mailing.models import Broadcast, Delivery, Member, ReadConfirmation, SurveyAnswer, SurveyQuestion, WebBroadcast

_MEMBER = Member._meta.db_table
_DELIVERY = Delivery._meta.db_table


def recipients_condition(broadcast: Broadcast) -> tuple[str, list]:
    """(SQL condition on `m`, its parameters); the caller adds `m.status = active` and the id range."""
    web = WebBroadcast.objects.filter(broadcast_id=broadcast.id).first() if broadcast.channel == "web" else None
    if web is not None and web.follow_up_of_id is not None:
        return _follow_up_condition(web)
    list_ids = sorted(web.lists.values_list("id", flat=True)) if web is not None else []
    if len(list_ids) <= 1:
        return "m.mailing_list_id = %s", [broadcast.mailing_list_id]
    # The unique (mailing_list, address_normalized) index answers the NOT EXISTS with one probe per list.
    return (
        f"""m.mailing_list_id = ANY(%s) AND NOT EXISTS (
              SELECT 1 FROM {_MEMBER} other
               WHERE other.mailing_list_id = ANY(%s) AND other.address_normalized = m.address_normalized
                 AND other.status = 'active' AND other.id < m.id)""",
        [list_ids, list_ids],
    )


def _follow_up_condition(web: WebBroadcast) -> tuple[str, list]:
    first = web.follow_up_of_id
    if web.follow_up_kind == WebBroadcast.FollowUp.UNCONFIRMED:
        missing = f"NOT EXISTS (SELECT 1 FROM {ReadConfirmation._meta.db_table} c WHERE c.delivery_id = d.id)"
        params: list = []
    else:
        questions = SurveyQuestion.objects.filter(survey__broadcast_id=first).count()
        missing = f"(SELECT count(*) FROM {SurveyAnswer._meta.db_table} a WHERE a.delivery_id = d.id) < %s"
        params = [questions]
    return (
        f"""m.id IN (SELECT d.member_id FROM {_DELIVERY} d
                      WHERE d.broadcast_id = %s AND d.member_id IS NOT NULL AND {missing})""",
        [first, *params],
    )


def recipients_preview(broadcast: Broadcast) -> tuple[int, Member | None]:
    """(how many copies the broadcast would make now, the first recipient): for the preview."""
    condition, params = recipients_condition(broadcast)
    where = f"{condition} AND m.status = %s"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), min(m.id) FROM {_MEMBER} m WHERE {where}", [*params, Member.Status.ACTIVE])
        count, first_id = cursor.fetchone()
    return count, Member.objects.filter(id=first_id).first() if first_id else None
