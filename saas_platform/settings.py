"""Settings, read from environment variables (documented in README.md)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PLATFORM_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("PLATFORM_TESTING", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug-and-tests"  # noqa: S105

PLATFORM_DOMAIN = os.environ.get("PLATFORM_DOMAIN", "localhost").lower()
WEB_PORT = int(os.environ.get("WEB_PORT", "8000"))
MX_PORT = int(os.environ.get("MX_PORT", "2525"))
# Where outbound mail goes. Unset: the local catcher (`manage.py run_mail_catcher`) on this port.
MAIL_CATCHER_PORT = int(os.environ.get("MAIL_CATCHER_PORT", "2526"))
OUTBOUND_SMTP_URL = os.environ.get("OUTBOUND_SMTP_URL") or f"smtp://127.0.0.1:{MAIL_CATCHER_PORT}"
MAIL_CATCHER_DIR = VAR_DIR / "mail"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")

ALLOWED_HOSTS = [f".{PLATFORM_DOMAIN}", PLATFORM_DOMAIN]
if DEBUG or TESTING:
    ALLOWED_HOSTS += ["127.0.0.1", "testserver", ".testserver"]

# --- Applications: django-tenants splits them between the public schema and each organization's.
SHARED_APPS = [
    "django_tenants",
    "saas_platform",
    "tenants",
    "billing",
    "inbound_mx",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts",
    "mailing",
    "org_groups",
    "audit",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Organization"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New organizations are cloned from a migrated template schema (see docs/adr/0001).
TENANT_TEMPLATE_SCHEMA = "tenant_template"

MIDDLEWARE = [
    # First: the 404 that TenantMainMiddleware raises for an unknown host must be rendered in the
    # reader's language (cookie, Accept-Language), not in whatever the thread's last request used.
    "django.middleware.locale.LocaleMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After authentication: the user's language, the organization's time zone, no-store on console pages.
    "saas_platform.middleware.ConsoleMiddleware",
]
ROOT_URLCONF = "saas_platform.urls_tenant"
PUBLIC_SCHEMA_URLCONF = "saas_platform.urls_public"
# An unknown Host is a 404, never some organization's console (django-tenants #181).
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "saas_platform" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "saas_platform.context_processors.console_roles",
            ],
        },
    },
]
WSGI_APPLICATION = "saas_platform.wsgi.application"
ASGI_APPLICATION = "saas_platform.asgi.application"

# --- Data
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/saas_platform")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Cache keys carry the schema name, so one organization never reads another's entries.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Authentication (django-allauth, users live in each organization's schema)
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    # Tests create many logins; production keeps Django's default PBKDF2 work factor.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "5/m/ip,5/5m/key"}
# Where accounts.policy learns which lists a person administers: one function per app that grants
# such a role, `(user) -> list ids` (accounts.selectors.console_roles).
CONSOLE_LIST_ADMIN_SOURCES = [
    "mailing.selectors.lists.list_ids_administered_by",
    "org_groups.selectors.list_ids_administered_by",
]
# `(user) -> sets of list ids` administered together: a group admin's subtree (moving members stays
# inside one set).
CONSOLE_LIST_SET_SOURCES = ["org_groups.selectors.list_id_sets_administered_by"]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]

# --- Internationalisation
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static files: served from the project itself, no CDN (the console works offline).
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "saas_platform" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Mail
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
DEFAULT_FROM_EMAIL = f"no-reply@{PLATFORM_DOMAIN}"
MAIL_MAX_MESSAGE_BYTES = int(os.environ.get("MAIL_MAX_MESSAGE_BYTES", str(20 * 1024 * 1024)))

# --- Security. Production (DEBUG off) is HTTPS only; `manage.py check --deploy` passes.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging: one structured (JSON lines) format for every process.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "saas_platform.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "asyncio": {"level": "WARNING"},
        "mail.log": {"level": "WARNING"},
    },
}

# --- Background jobs (dramatiq on Redis); the broker is set up in saas_platform.apps.
DRAMATIQ_QUEUE_PREFIX = os.environ.get("DRAMATIQ_QUEUE_PREFIX", "")

# --- Scheduler: (dotted path of a no-argument function, interval in seconds), run by the active
# scheduler process (saas_platform.scheduler).
SCHEDULER_JOBS: list[tuple[str, float]] = []

# --- Inbound mail (issue 3, inbound half)
# DNS for SPF/DKIM/DMARC checks: "ip" or "ip:port" entries; empty uses the system resolver.
DNS_NAMESERVERS = [entry.strip() for entry in os.environ.get("DNS_NAMESERVERS", "").split(",") if entry.strip()]
DNS_TIMEOUT_SECONDS = float(os.environ.get("DNS_TIMEOUT_SECONDS", "5"))
# STARTTLS on the MX when both are set (PEM files).
MX_TLS_CERT = os.environ.get("MX_TLS_CERT", "")
MX_TLS_KEY = os.environ.get("MX_TLS_KEY", "")
MX_HOSTNAME = os.environ.get("MX_HOSTNAME", f"mx.{PLATFORM_DOMAIN}")
# Address -> organization/list routes are cached this long; list changes show within this time.
MX_ROUTE_CACHE_SECONDS = int(os.environ.get("MX_ROUTE_CACHE_SECONDS", "60"))
# A message whose processing failed this many times is quarantined (kept, shown to operators).
INBOUND_MAX_ATTEMPTS = int(os.environ.get("INBOUND_MAX_ATTEMPTS", "3"))
# First retry delay of a failed processing job (dramatiq doubles it up to the attempts above).
INBOUND_RETRY_MIN_BACKOFF_MS = int(os.environ.get("INBOUND_RETRY_MIN_BACKOFF_MS", "100" if TESTING else "15000"))
# RECEIVED messages older than this were never picked up (crash between commit and enqueue).
INBOUND_SWEEP_AFTER_SECONDS = int(os.environ.get("INBOUND_SWEEP_AFTER_SECONDS", "60"))
# Permanent bounces after which a member's delivery is suspended (status bouncing).
MAIL_BOUNCE_THRESHOLD = int(os.environ.get("MAIL_BOUNCE_THRESHOLD", "3"))
# Join/leave confirmation and moderation links stay valid this long.
MAIL_CONFIRMATION_MAX_AGE_SECONDS = int(os.environ.get("MAIL_CONFIRMATION_MAX_AGE_SECONDS", str(7 * 24 * 3600)))
MAIL_MODERATION_MAX_AGE_SECONDS = int(os.environ.get("MAIL_MODERATION_MAX_AGE_SECONDS", str(14 * 24 * 3600)))
SCHEDULER_JOBS.append(("mailing.services.inbound.sweep.inbound_sweep", 30))
# --- Outbound delivery (mailing.services.delivery_batches and delivery_sweeps; docs/adr/0002-fanout-and-delivery.md)
# Links in mail (unsubscribe, later read confirmation and surveys) point at the organization's host
# with this scheme; in development (DEBUG) at http://HOST:WEB_PORT.
LINK_SCHEME = os.environ.get("LINK_SCHEME", "http" if DEBUG else "https")
LINK_PORT = os.environ.get("LINK_PORT", str(WEB_PORT) if DEBUG else "")
# Recipients per fan-out batch job, and how many batches of one broadcast wait in the queue at once
# (each finished batch enqueues the next): a large broadcast never fills the queue ahead of others.
FANOUT_BATCH_SIZE = int(os.environ.get("FANOUT_BATCH_SIZE", "200"))
FANOUT_WINDOW = int(os.environ.get("FANOUT_WINDOW", "4"))
# 4xx from the relay: retried after 300 s, doubling up to 4000 s, until 5 days after the broadcast
# started (Postfix's defaults: minimal/maximal_backoff_time, maximal_queue_lifetime). Then failed.
DELIVERY_RETRY_BACKOFF_SECONDS = int(os.environ.get("DELIVERY_RETRY_BACKOFF_SECONDS", "300"))
DELIVERY_RETRY_MAX_BACKOFF_SECONDS = int(os.environ.get("DELIVERY_RETRY_MAX_BACKOFF_SECONDS", "4000"))
DELIVERY_RETRY_DEADLINE_SECONDS = int(os.environ.get("DELIVERY_RETRY_DEADLINE_SECONDS", str(5 * 24 * 3600)))
# Who DKIM-signs outbound list mail (docs/adr/0002):
# - per_recipient: the workers sign each copy with the organization domain's key. Each copy has its
#   own List-Unsubscribe, which RFC 8058 §4 requires to be covered by the signature, so this is one
#   RSA-2048 signature per recipient (~1 ms of CPU, most of a worker's cost per copy).
# - relay: the workers do not sign; the outbound MTA at OUTBOUND_SMTP_URL must (e.g. Postfix +
#   OpenDKIM with the organization's key, signing List-Unsubscribe too). Moves the RSA off the workers.
# OUTBOUND_DKIM_SIGN=0 (the older switch) means relay when OUTBOUND_DKIM_MODE is not set.
OUTBOUND_DKIM_MODES = ("per_recipient", "relay")
OUTBOUND_DKIM_MODE = os.environ.get("OUTBOUND_DKIM_MODE") or (
    "per_recipient" if env_bool("OUTBOUND_DKIM_SIGN", True) else "relay"
)
if OUTBOUND_DKIM_MODE not in OUTBOUND_DKIM_MODES:
    raise ImproperlyConfigured(f"OUTBOUND_DKIM_MODE must be one of {', '.join(OUTBOUND_DKIM_MODES)}")
SCHEDULER_JOBS.append(("mailing.services.delivery_sweeps.deliveries_retry_enqueue_due", 60.0))
# How long the Redis broker waits for a silent worker before giving its unacknowledged messages to
# another (dramatiq's default is 60 s). Tests that kill a worker use a few seconds.
DRAMATIQ_HEARTBEAT_TIMEOUT_MS = int(os.environ.get("DRAMATIQ_HEARTBEAT_TIMEOUT_MS", "60000"))
# How often an idle worker polls each queue (saas_platform.broker.PlatformRedisBroker): the queues a
# post waits on every DRAMATIQ_PROMPT_POLL_MS, the others every DRAMATIQ_IDLE_POLL_MS.
DRAMATIQ_PROMPT_QUEUES = frozenset({"inbound", "fanout_plan", "delivery"})
DRAMATIQ_PROMPT_POLL_MS = int(os.environ.get("DRAMATIQ_PROMPT_POLL_MS", "50" if TESTING else "100"))
DRAMATIQ_IDLE_POLL_MS = int(os.environ.get("DRAMATIQ_IDLE_POLL_MS", "50" if TESTING else "1000"))
DRAMATIQ_MAINTENANCE_CHANCE = int(os.environ.get("DRAMATIQ_MAINTENANCE_CHANCE", "1000"))  # per million commands
# A sending broadcast none of whose deliveries changed this long lost its batch chain (e.g. Redis down
# at commit); the retry job enqueues its queued batches again (locks and SENT marks: no double send).
FANOUT_STALL_SECONDS = int(os.environ.get("FANOUT_STALL_SECONDS", "600"))
# The second step of a fan-out's plan (deliveries beyond the first window) takes well under a second
# for 100,000 members; one not done this long after the broadcast started lost its job: run again.
FANOUT_PLAN_STALL_SECONDS = int(os.environ.get("FANOUT_PLAN_STALL_SECONDS", "60"))
# Deliveries made per transaction by that second step (each chunk's batches can start at once).
FANOUT_PLAN_CHUNK = int(os.environ.get("FANOUT_PLAN_CHUNK", "10000"))
# --- Web broadcasts (F7-F11; docs/adr/0005-web-broadcasts.md)
# Attachments of one web broadcast together (the form shows it before upload; the mail is ~4/3 of it).
BROADCAST_ATTACHMENTS_MAX_BYTES = int(os.environ.get("BROADCAST_ATTACHMENTS_MAX_BYTES", str(10_000_000)))
# Read-confirmation and survey links keep working this long after their broadcast started.
BROADCAST_LINK_RETENTION_DAYS = int(os.environ.get("BROADCAST_LINK_RETENTION_DAYS", "400"))
# A scheduled broadcast that starts more than this after its time (nothing ran) is marked late.
BROADCAST_LATE_AFTER_SECONDS = int(os.environ.get("BROADCAST_LATE_AFTER_SECONDS", "60"))
BROADCAST_SCHEDULE_MAX_DAYS = int(os.environ.get("BROADCAST_SCHEDULE_MAX_DAYS", "366"))
# How often the active scheduler looks for due scheduled broadcasts (one indexed query in public).
BROADCAST_SCHEDULE_TICK_SECONDS = float(os.environ.get("BROADCAST_SCHEDULE_TICK_SECONDS", "0.5"))
SCHEDULER_JOBS.append(
    ("mailing.services.broadcast_schedule.scheduled_broadcasts_start_due", BROADCAST_SCHEDULE_TICK_SECONDS)
)
