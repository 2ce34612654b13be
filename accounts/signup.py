"""Sign-up on the public site: an organization is created once its owner confirms their address.

The Signup rows live in the public schema (tenants); the organization and its owner are made by
`accounts.services.organization_create_with_owner`.

1. `signup_start` checks the form (name, id/slug, owner's user name, address, password), hashes the
   password (the slow part, paid here rather than at creation) and keeps a Signup with the digest of
   a fresh token. The caller mails the link (`signup_mail_send`, Django's e-mail API).
2. The link opens a page; its button (a POST: link scanners' GETs change nothing) calls
   `signup_confirm`, which creates the organization, its domain and the owner's (verified) account.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.services import organization_create_with_owner
from tenants.errors import TenantsUserError
from tenants.models import Signup
from tenants.selectors import organization_get_by_slug, signup_pending_by_digest
from tenants.services import (
    OrganizationCreated,
    organization_slug_check,
    signup_confirmed_mark,
    signup_record,
    signup_token_set,
)

logger = logging.getLogger(__name__)

SIGNUP_MAX_AGE = timedelta(days=2)
# Sign-ups a client address may start per hour (a form that sends mail must not become a mail cannon).
SIGNUPS_PER_HOUR = 10


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def signup_rate_allow(*, client: str) -> bool:
    """Count a sign-up from this client; False once it has started SIGNUPS_PER_HOUR this hour."""
    key = f"signup-rate:{client}:{timezone.now():%Y%m%d%H}"
    try:
        cache.add(key, 0, timeout=3600)
        return cache.incr(key) <= SIGNUPS_PER_HOUR
    except Exception:  # the limit is a safeguard; Redis trouble must not close the sign-up
        logger.warning("sign-up rate limit unavailable", exc_info=True)
        return True


@transaction.atomic
def signup_start(
    *, organization_name: str, slug: str, username: str, email: str, password: str, language: str = "ja"
) -> tuple[Signup, str]:
    """Check a sign-up and keep it; returns it with the token for the verification link."""
    organization_name = " ".join(organization_name.split())[:200]
    if not organization_name:
        raise TenantsUserError(_("Give the organization's name."))
    try:
        slug = organization_slug_check(slug)
    except TenantsUserError as error:
        if organization_get_by_slug(slug=slug.strip().lower()) is not None:
            raise TenantsUserError(_("The id %(slug)s is taken; choose another.") % {"slug": slug}) from error
        raise TenantsUserError(
            _("The id may use 3-40 lower-case letters, digits and hyphens, starting with a letter.")
        ) from error
    username = username.strip()
    if not username or len(username) > 150:
        raise TenantsUserError(_("Give a user name (at most 150 characters)."))
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError as error:
        raise TenantsUserError(_("Give a valid e-mail address.")) from error
    try:
        validate_password(password)
    except ValidationError as error:
        raise TenantsUserError(" ".join(error.messages)) from error
    token = secrets.token_urlsafe(32)
    signup = signup_record(
        organization_name=organization_name,
        slug=slug,
        email=email,
        username=username,
        password_hash=make_password(password),
        language=language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE,
        token_digest=_digest(token),
    )
    return signup, token


def signup_mail_send(*, signup: Signup, link: str) -> bool:
    """Mail the verification link through the platform's outbound mail (Django's e-mail API).

    Returns False when the relay cannot take it now: the page says so and offers to send again;
    the sign-up is kept."""
    with translation.override(signup.language):
        subject = _("Confirm your address to create %(name)s") % {"name": signup.organization_name}
        body = render_to_string("accounts/signup_mail.txt", {"signup": signup, "link": link})
    try:
        send_mail(subject, body, None, [signup.email])
    except (OSError, smtplib.SMTPException):
        logger.warning("verification mail for sign-up %s could not be sent", signup.pk, exc_info=True)
        return False
    return True


@transaction.atomic
def signup_token_renew(*, signup: Signup) -> str:
    """A new link for a sign-up (the old one stops working): for "send the mail again"."""
    token = secrets.token_urlsafe(32)
    signup_token_set(signup=signup, token_digest=_digest(token))
    return token


def signup_for_token(*, token: str) -> Signup | None:
    """The unconfirmed, unexpired sign-up a link's token belongs to, or None."""
    if not token or len(token) > 100:
        return None
    return Signup.objects.filter(
        token_digest=_digest(token), confirmed_at__isnull=True, created_at__gte=timezone.now() - SIGNUP_MAX_AGE
    ).first()


@transaction.atomic
def signup_confirm(*, token: str) -> OrganizationCreated:
    """The owner pressed the button in their verification page: create the organization and their login
    (their address is verified: the link came to it)."""
    signup = None
    if token and len(token) <= 100:
        signup = signup_pending_by_digest(token_digest=_digest(token), since=timezone.now() - SIGNUP_MAX_AGE, lock=True)
    if signup is None:
        raise TenantsUserError(_("This link is not valid any more. Sign up again."))
    try:
        created = organization_create_with_owner(
            slug=signup.slug,
            name=signup.organization_name,
            owner_email=signup.email,
            owner_username=signup.username,
            owner_password_hash=signup.password_hash,
            language=signup.language,
        )
    except TenantsUserError as error:
        raise TenantsUserError(
            _("The id %(slug)s was taken meanwhile. Sign up again with another id.") % {"slug": signup.slug}
        ) from error
    signup_confirmed_mark(signup_id=signup.pk, organization=created.organization)
    return created
