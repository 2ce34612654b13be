"""URLs of the platform's own host (PLATFORM_DOMAIN): landing page, health; later signup and operators."""

from django.urls import path

from saas_platform import views

urlpatterns = [
    path("", views.platform_home, name="platform_home"),
    path("healthz", views.health, name="health"),
]
