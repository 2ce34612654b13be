"""Links that mail carries to people (moderation, join confirmation, unsubscribe): tenant URLs."""

from django.urls import path

from mailing import views

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="mailing_unsubscribe"),
]
