"""Links that mail carries to people (moderation, join confirmation, leave, unsubscribe): tenant URLs under /m/."""

from django.urls import path

from mailing.views import links

urlpatterns = [
    path("moderate/<str:token>/", links.moderate, name="mailing_moderate"),
    path("join/<str:token>/", links.join, name="mailing_join"),
    path("leave/<str:token>/", links.leave, name="mailing_leave"),
    path("unsubscribe/<str:token>/", links.unsubscribe, name="mailing_unsubscribe"),
]
