"""URLs of an organization's host (<slug>.PLATFORM_DOMAIN): the console and recipients' links."""

from django.urls import include, path

from saas_platform import views

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("m/", include("mailing.urls")),
    path("healthz", views.health, name="health"),
    path("", include("saas_platform.urls_console")),
]
