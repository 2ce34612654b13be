"""URLs of the platform's own host (PLATFORM_DOMAIN): landing page, sign-up, health; later operators."""

from django.urls import path

from saas_platform import views
from tenants import views as tenant_views

urlpatterns = [
    path("", views.platform_home, name="platform_home"),
    path("signup/", tenant_views.signup, name="signup"),
    path("signup/sent/", tenant_views.signup_sent, name="signup_sent"),
    path("signup/confirm/<str:token>/", tenant_views.signup_confirm_page, name="signup_confirm"),
    path("signup/confirm/<str:token>/create/", tenant_views.signup_confirm_post, name="signup_confirm_post"),
    path("healthz", views.health, name="health"),
]
