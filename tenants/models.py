"""Organizations and their host names; both live in the public schema."""

from __future__ import annotations

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Organization(TenantMixin):
    """A customer (company, school, club). Its data lives in the PostgreSQL schema `schema_name`."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="Asia/Tokyo")
    language = models.CharField(max_length=8, default="ja")
    created_at = models.DateTimeField(auto_now_add=True)
    # The mail sweepers (scheduler jobs) visit only organizations whose mail work may be pending:
    # moved forward when a message is stored or a broadcast starts, and by the sweepers while they
    # find work left (tenants.services.organization_sweep_extend).
    sweep_until = models.DateTimeField(null=True, blank=True, db_index=True)

    # Schemas are created by tenants.services.organization_create (cloned from a template).
    auto_create_schema = False
    auto_drop_schema = True

    def __str__(self) -> str:
        return self.name


class Domain(DomainMixin):
    """A host name of an organization: `<slug>.<PLATFORM_DOMAIN>`, later custom domains too.

    The same name serves the console (https://acme.example/) and the list addresses (all@acme.example).
    Outbound list mail is DKIM-signed with this domain's key; the public half is published in DNS
    as `<dkim_selector>._domainkey.<domain>` (see `dkim_dns_record`).
    """

    dkim_selector = models.CharField(max_length=63, default="mlp1")
    dkim_private_key = models.TextField(blank=True, default="")  # PEM, PKCS#8
    dkim_public_key = models.TextField(blank=True, default="")  # base64 DER SubjectPublicKeyInfo

    def dkim_dns_record(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.dkim_public_key}"

    def __str__(self) -> str:
        return self.domain


class Signup(models.Model):
    """A sign-up on the public site waiting for its owner to confirm their e-mail address.

    The organization is created only when the link in the verification mail is confirmed (so an
    unverified address holds no organization). The link's token is kept as a SHA-256 digest: the
    table alone opens nothing. The owner's password is kept hashed, ready for their account.
    """

    organization_name = models.CharField(max_length=200)
    slug = models.CharField(max_length=40)
    email = models.CharField(max_length=254)
    username = models.CharField(max_length=150)
    password_hash = models.CharField(max_length=256)
    language = models.CharField(max_length=8, default="ja")
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="signups"
    )

    class Meta:
        indexes = [models.Index(fields=["slug"], name="signup_slug")]


class ScheduledBroadcast(models.Model):
    """The public index of scheduled broadcasts (F11): one row per broadcast waiting for its time.

    The broadcast itself lives in its organization's schema; this row, written in the same transaction
    (the tenant schema's search path includes public), lets the scheduler's tick find what is due with
    one indexed query instead of visiting every schema each second (mailing.services.broadcast_schedule).
    """

    schema_name = models.CharField(max_length=63)
    broadcast_id = models.BigIntegerField()
    due_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schema_name", "broadcast_id"], name="scheduled_broadcast_unique"),
        ]
        indexes = [models.Index(fields=["due_at"], name="scheduled_broadcast_due")]
