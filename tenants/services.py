"""Writes for organizations: creation (schema, domain); the mail sweepers' register.

An organization's first owner is made by accounts.services.organization_create_with_owner, which calls
`organization_create` here: tenancy knows nothing of the apps that live in an organization's schema.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_exists

from tenants.errors import TenantsUserError
from tenants.models import Domain, Organization, Signup
from tenants.schema_clone import schema_clone

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = frozenset({"www", "public", "admin", "api", "mail", "mx", "static", "postmaster", "template"})


@dataclass(frozen=True)
class OrganizationCreated:
    organization: Organization
    domain: Domain


def dkim_key_generate() -> tuple[str, str]:
    """A fresh RSA-2048 DKIM key pair: (private PEM, base64 public key for the DNS record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, base64.b64encode(public_der).decode()


def domain_create(*, organization: Organization, name: str, is_primary: bool) -> Domain:
    """Add a host name to an organization, with its own DKIM key made now."""
    private_pem, public_b64 = dkim_key_generate()
    return Domain.objects.create(
        domain=name.lower(),
        tenant=organization,
        is_primary=is_primary,
        dkim_private_key=private_pem,
        dkim_public_key=public_b64,
    )


def organization_schema_name(slug: str) -> str:
    return "org_" + slug.replace("-", "_")


def organization_domain_name(slug: str) -> str:
    return f"{slug}.{settings.PLATFORM_DOMAIN}"


def public_tenant_ensure() -> Organization:
    """The public schema's own row and the bare platform domain (signup, operator pages)."""
    public, _ = Organization.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME, defaults={"slug": "public", "name": "Platform"}
    )
    Domain.objects.get_or_create(domain=settings.PLATFORM_DOMAIN, defaults={"tenant": public, "is_primary": True})
    return public


def template_schema_ensure() -> None:
    """Migrate the template schema that new organizations are cloned from (docs/adr/0001).

    Cloning a migrated schema is a few catalogue copies in SQL; running every migration again for
    each new organization is slower and grows with the number of migrations. `migrate` (and
    `make run`/`make test`) call this, so the template always matches the latest migrations.
    """
    template = settings.TENANT_TEMPLATE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{template}"')
    call_command("migrate_schemas", schema_name=template, tenant=True, interactive=False, verbosity=0)


def organization_slug_check(slug: str) -> str:
    """The slug, normalized, if it can be a new organization's id; else TenantsUserError."""
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug) or slug in RESERVED_SLUGS:
        raise TenantsUserError(
            f"{slug!r} is not a usable organization id: 3-40 lower-case letters, digits and hyphens, "
            "starting with a letter"
        )
    if Organization.objects.filter(slug=slug).exists():
        raise TenantsUserError(f"an organization with the id {slug!r} already exists")
    return slug


@transaction.atomic
def organization_create(*, slug: str, name: str, language: str = "ja") -> OrganizationCreated:
    """Create an organization: its schema (cloned from the template) and its domain."""
    slug = organization_slug_check(slug)
    schema_name = organization_schema_name(slug)
    if not schema_exists(settings.TENANT_TEMPLATE_SCHEMA):
        template_schema_ensure()
    organization = Organization.objects.create(schema_name=schema_name, slug=slug, name=name.strip(), language=language)
    schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target=schema_name)
    domain = domain_create(organization=organization, name=organization_domain_name(slug), is_primary=True)
    return OrganizationCreated(organization=organization, domain=domain)


# Sweep register: how far ahead an organization is marked, and the slack that makes a busy
# organization write its row about once a day instead of once per message.
SWEEP_HORIZON = timedelta(days=1)
SWEEP_SLACK = timedelta(days=1)


def organization_sweep_extend(*, schema_name: str, now: datetime | None = None) -> bool:
    """Make the mail sweepers visit this organization for at least SWEEP_HORIZON from now.

    Called in the transaction that creates the pending work (the MX storing a message, a broadcast
    starting), so the mark commits with it. Writes only when the stored time is short of the horizon,
    and then moves it SWEEP_SLACK further: at most about one write per organization per day.
    Returns whether it wrote.
    """
    now = now or timezone.now()
    needed = now + SWEEP_HORIZON
    return bool(
        Organization.objects.filter(schema_name=schema_name)
        .filter(Q(sweep_until__isnull=True) | Q(sweep_until__lt=needed))
        .update(sweep_until=needed + SWEEP_SLACK)
    )


def organizations_to_sweep(*, now: datetime | None = None) -> list[str]:
    """Schema names of the organizations whose mail work may be pending (the sweepers' worklist)."""
    now = now or timezone.now()
    return list(
        Organization.objects.filter(sweep_until__gte=now)
        .exclude(schema_name__in=[settings.PUBLIC_SCHEMA_NAME, settings.TENANT_TEMPLATE_SCHEMA])
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )


# --- Sign-ups waiting for their owner's address to be confirmed (accounts.signup drives them)


@transaction.atomic
def signup_record(
    *,
    organization_name: str,
    slug: str,
    email: str,
    username: str,
    password_hash: str,
    language: str,
    token_digest: str,
) -> Signup:
    return Signup.objects.create(
        organization_name=organization_name,
        slug=slug,
        email=email,
        username=username,
        password_hash=password_hash,
        language=language,
        token_digest=token_digest,
    )


@transaction.atomic
def signup_token_set(*, signup: Signup, token_digest: str) -> Signup:
    signup.token_digest = token_digest
    signup.save(update_fields=["token_digest"])
    return signup


@transaction.atomic
def signup_confirmed_mark(*, signup_id: int, organization: Organization) -> None:
    """The organization exists: the sign-up is done, and its password hash now lives in the account only."""
    Signup.objects.filter(pk=signup_id).update(confirmed_at=timezone.now(), organization=organization, password_hash="")
