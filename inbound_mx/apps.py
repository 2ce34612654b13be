from django.apps import AppConfig


class InboundMxConfig(AppConfig):
    """The shared inbound SMTP server (aiosmtpd): routes at RCPT, stores then enqueues at DATA."""

    name = "inbound_mx"
    verbose_name = "Inbound MX"
