"""Links that mail carries to people (moderation, join confirmation, leave): tenant URLs under /m/."""

from django.urls import path

from mailing import views

app_name = "mailing"

urlpatterns = [
    path("moderate/<str:token>/", views.moderate, name="moderate"),
    path("join/<str:token>/", views.join, name="join"),
    path("leave/<str:token>/", views.leave, name="leave"),
]
