"""Writes for console users, and an organization's creation with its first owner."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_tenants.utils import schema_context

from accounts.models import Profile
from tenants.services import OrganizationCreated, organization_create


@transaction.atomic
def user_create(
    *, username: str, email: str, password: str | None, is_owner: bool = False, password_hash: str = ""
) -> AbstractBaseUser:
    """Create a console user of the current organization (call inside its schema).

    `password_hash` (already made by Django's hasher, e.g. at sign-up) is used instead of hashing
    `password` again."""
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    if password_hash:
        user.password = password_hash
        user.save(update_fields=["password"])
    Profile.objects.create(user=user, is_owner=is_owner)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


@transaction.atomic
def user_invite(*, username: str, email: str) -> AbstractBaseUser:
    """A console user without a password yet: they set one through the password-reset mail."""
    user = get_user_model().objects.create_user(username=username, email=email)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    Profile.objects.create(user=user)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


@transaction.atomic
def profile_language_set(*, user: AbstractBaseUser, language: str) -> None:
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.language = language
    profile.save(update_fields=["language"])


@transaction.atomic
def user_email_set(*, user: AbstractBaseUser, email: str) -> None:
    """Change a console user's address, which is also where their password-reset mail goes (allauth)."""
    user.email = email
    user.save(update_fields=["email"])
    EmailAddress.objects.filter(user=user).delete()
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)


@transaction.atomic
def organization_create_with_owner(
    *,
    slug: str,
    name: str,
    owner_email: str,
    owner_password: str | None = None,
    owner_username: str | None = None,
    owner_password_hash: str = "",
    language: str = "ja",
) -> OrganizationCreated:
    """Create an organization (tenants.services.organization_create) and its owner's login, together.

    The owner's password comes in plain (`owner_password`, hashed here) or already hashed
    (`owner_password_hash`, from a verified sign-up: the slow hash was paid when they signed up)."""
    created = organization_create(slug=slug, name=name, language=language)
    with schema_context(created.organization.schema_name):
        user_create(
            username=owner_username or owner_email.split("@")[0],
            email=owner_email,
            password=None if owner_password_hash else owner_password,
            password_hash=owner_password_hash,
            is_owner=True,
        )
    return created
