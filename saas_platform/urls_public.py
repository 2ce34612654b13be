"""URLs of the platform's own host (PLATFORM_DOMAIN): landing page, sign-up, health; later operators."""

from django.urls import path

from accounts import views as account_views
from saas_platform import views

urlpatterns = [
    path("", views.platform_home, name="platform_home"),
    path("signup/", account_views.signup, name="signup"),
    path("signup/sent/", account_views.signup_sent, name="signup_sent"),
    path("signup/confirm/<str:token>/", account_views.signup_confirm_page, name="signup_confirm"),
    path("signup/confirm/<str:token>/create/", account_views.signup_confirm_post, name="signup_confirm_post"),
    path("healthz", views.health, name="health"),
]
