"""The mailing app's dramatiq actors, one module per stage (inbound processing, delivery)."""

from mailing.tasks import delivery, inbound, member_import  # noqa: F401  (importing declares the actors)
