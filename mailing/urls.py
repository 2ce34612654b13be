"""Links that mail carries to people (moderation, join confirmation, leave, unsubscribe, read confirmation,
surveys): tenant URLs under /m/."""

from django.urls import path, re_path

from mailing.views import broadcast_links, links

urlpatterns = [
    path("moderate/<str:token>/", links.moderate, name="mailing_moderate"),
    path("join/<str:token>/", links.join, name="mailing_join"),
    path("leave/<str:token>/", links.leave, name="mailing_leave"),
    path("unsubscribe/<str:token>/", links.unsubscribe, name="mailing_unsubscribe"),
    # Read confirmation and survey links of web broadcasts (mailing.links builds the same paths per copy).
    path("r/<str:token>/", broadcast_links.read_confirmation, name="mailing_read_confirmation"),
    path("s/<str:token>/<int:choice_id>/", broadcast_links.survey_choice, name="mailing_survey_choice"),
    # Anything else under them (a cut or altered link) gets the same page as an unknown token.
    re_path(r"^[rs]/", broadcast_links.bad_link, name="mailing_bad_link"),
]
