"""Links that mail carries to people (moderation, join confirmation, leave): tenant URLs under /m/."""

from django.urls import path

from mailing import link_views, views

urlpatterns = [
    path("moderate/<str:token>/", link_views.moderate, name="mailing_moderate"),
    path("join/<str:token>/", link_views.join, name="mailing_join"),
    path("leave/<str:token>/", link_views.leave, name="mailing_leave"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="mailing_unsubscribe"),
]
