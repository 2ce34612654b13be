from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Plans, subscriptions and usage (public schema); the billing issue builds it."""

    name = "billing"
    verbose_name = "Billing"
