"""Writes for console users."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.models import Profile


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
