"""Django settings, all taken from the environment (see docs/configuration.md)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django_stubs_ext

from spyglass.lib.dburl import parse_database_url
from spyglass.lib.env import (
    env_bool,
    env_float,
    env_int,
    env_optional,
    env_size,
    env_str,
)

# Generic Django classes (ModelAdmin[Issue], QuerySet[Event]) at run time, as mypy sees them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent

DATA_DIR = Path(env_str("SPYGLASS_DATA_DIR", "./data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("SPYGLASS_DEBUG", False)


def _secret_key() -> str:
    given = env_optional("SPYGLASS_SECRET_KEY")
    if given:
        return given
    path = DATA_DIR / "secret_key"
    if not path.exists():
        # Created once, readable by the owner only; the same key on every later start.
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()

BASE_URL = env_str("SPYGLASS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
_base = urlsplit(BASE_URL)
_allowed = env_optional("SPYGLASS_ALLOWED_HOSTS")
ALLOWED_HOSTS = (
    [h.strip() for h in _allowed.split(",") if h.strip()]
    if _allowed
    else [_base.hostname or "127.0.0.1", "127.0.0.1", "localhost", "[::1]"]
)
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]

INSTALLED_APPS = [
    "spyglass.core",
    "spyglass.accounts",
    "spyglass.projects",
    "spyglass.queue",
    "spyglass.releases",
    "spyglass.issues",
    "spyglass.events",
    "spyglass.performance",
    "spyglass.perfissues",
    "spyglass.monitors",
    "spyglass.logs",
    "spyglass.feedback",
    "spyglass.attachments",
    "spyglass.notifications",
    "spyglass.alerts",
    "spyglass.savedsearches",
    "spyglass.web",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "spyglass.web.middleware.SecurityHeadersMiddleware",
    "spyglass.web.middleware.UserTimeZoneMiddleware",
]

ROOT_URLCONF = "spyglass.urls"
ASGI_APPLICATION = "spyglass.asgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "spyglass.web.context.navigation",
            ]
        },
    }
]

# --- databases -------------------------------------------------------------------------------
DATABASE_URL = env_optional("DATABASE_URL")
_default_db: dict[str, Any] = (
    parse_database_url(DATABASE_URL)
    if DATABASE_URL
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "spyglass.sqlite3")}
)
USING_POSTGRES = _default_db["ENGINE"] == "django.db.backends.postgresql"

if not USING_POSTGRES:
    _sqlite_options = {
        # WAL and IMMEDIATE transactions: readers never block the writer, and a writer waits
        # for the lock at BEGIN instead of failing mid-transaction.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
    _default_db["OPTIONS"] = _sqlite_options
    _default_db.setdefault("TEST", {"NAME": str(DATA_DIR / "test_spyglass.sqlite3")})

DATABASES: dict[str, dict[str, Any]] = {"default": _default_db}

# The queue lives in its own SQLite file, so ingest writes never wait on digest writes. On
# PostgreSQL it is a table of the main database, claimed with FOR UPDATE SKIP LOCKED.
if USING_POSTGRES:
    QUEUE_DATABASE = "default"
else:
    QUEUE_DATABASE = "queue"
    DATABASES["queue"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "queue.sqlite3"),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        },
        "TEST": {"NAME": str(DATA_DIR / "test_queue.sqlite3")},
    }
DATABASE_ROUTERS = ["spyglass.queue.router.QueueRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- ingest ----------------------------------------------------------------------------------
MAX_ENVELOPE_SIZE = env_size("SPYGLASS_MAX_ENVELOPE_SIZE", "20MiB")
MAX_EVENT_SIZE = env_size("SPYGLASS_MAX_EVENT_SIZE", "1MiB")
MAX_ATTACHMENT_SIZE = env_size("SPYGLASS_MAX_ATTACHMENT_SIZE", "100MiB")
KEY_CACHE_TTL = env_float("SPYGLASS_KEY_CACHE_TTL", 10.0, minimum=0.1)
TRUST_X_FORWARDED_FOR = env_bool("SPYGLASS_TRUST_X_FORWARDED_FOR", False)

# --- queue -----------------------------------------------------------------------------------
QUEUE_MAX_DEPTH = env_int("SPYGLASS_QUEUE_MAX_DEPTH", 200_000, minimum=1)
QUEUE_COMMIT_WINDOW = env_float("SPYGLASS_QUEUE_COMMIT_WINDOW_MS", 1.0) / 1000.0
QUEUE_LEASE_SECONDS = env_float("SPYGLASS_QUEUE_LEASE_SECONDS", 300.0, minimum=1.0)
QUEUE_MAX_ATTEMPTS = env_int("SPYGLASS_QUEUE_MAX_ATTEMPTS", 5, minimum=1)

# --- retention (performance) -----------------------------------------------------------------
RETENTION_TRANSACTIONS_DAYS = env_int("SPYGLASS_RETENTION_TRANSACTIONS_DAYS", 30, minimum=1)
RETENTION_SPANS_DAYS = env_int("SPYGLASS_RETENTION_SPANS_DAYS", 30, minimum=1)
RETENTION_ROLLUPS_DAYS = env_int("SPYGLASS_RETENTION_ROLLUPS_DAYS", 395, minimum=1)
RETENTION_MINUTE_ROLLUPS_DAYS = env_int("SPYGLASS_RETENTION_MINUTE_ROLLUPS_DAYS", 7, minimum=1)
# How long a digest worker keeps a project's transaction name rules before reading them again.
TRANSACTION_NAME_RULES_REFRESH = env_float(
    "SPYGLASS_TRANSACTION_NAME_RULES_REFRESH_SECONDS", 60.0, minimum=0.1
)

# --- notifications and outbound HTTP ---------------------------------------------------------
# Hosts or networks (CIDR) outbound requests may reach although private or loopback.
OUTBOUND_ALLOWLIST = env_str("SPYGLASS_OUTBOUND_ALLOWLIST", "")
NOTIFY_TIMEOUT = env_float("SPYGLASS_NOTIFY_TIMEOUT", 10.0, minimum=0.1)
NOTIFY_MAX_ATTEMPTS = env_int("SPYGLASS_NOTIFY_MAX_ATTEMPTS", 6, minimum=1)
NOTIFY_RETRY_SECONDS = env_float("SPYGLASS_NOTIFY_RETRY_SECONDS", 30.0)
NOTIFY_RETRY_MAX_SECONDS = env_float("SPYGLASS_NOTIFY_RETRY_MAX_SECONDS", 3600.0)
PAGERDUTY_EVENTS_URL = env_str(
    "SPYGLASS_PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue"
)
EMAIL_HOST = env_str("SPYGLASS_SMTP_HOST", "localhost")
EMAIL_PORT = env_int("SPYGLASS_SMTP_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("SPYGLASS_SMTP_USER", "")
EMAIL_HOST_PASSWORD = env_str("SPYGLASS_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("SPYGLASS_SMTP_STARTTLS", False)
EMAIL_USE_SSL = env_bool("SPYGLASS_SMTP_SSL", False)
DEFAULT_FROM_EMAIL = env_str("SPYGLASS_EMAIL_FROM", "Spyglass <spyglass@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- processes -------------------------------------------------------------------------------
WEB_WORKERS = env_int("SPYGLASS_WEB_WORKERS", 2, minimum=1)
# `spyglass serve` runs as few web processes as its load needs (read by the supervisor).
WEB_WORKERS_MIN = env_int("SPYGLASS_WEB_WORKERS_MIN", 1, minimum=1)
WEB_BUSY = env_float("SPYGLASS_WEB_BUSY", 0.5, minimum=0.001)
WEB_IDLE_SECONDS = env_float("SPYGLASS_WEB_IDLE_SECONDS", 60.0, minimum=0.1)
DIGEST_WORKERS = env_int("SPYGLASS_DIGEST_WORKERS", 1, minimum=1)  # read by the supervisor

# --- first run (make run) --------------------------------------------------------------------
ADMIN_EMAIL = env_str("SPYGLASS_ADMIN_EMAIL", "admin@localhost")
ADMIN_PASSWORD = env_optional("SPYGLASS_ADMIN_PASSWORD")

# --- the rest of Django ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "/static/"
# Every web process serves the installed apps' static folders itself (spyglass/asgi.py, with
# WhiteNoise), indexed at start: no collectstatic, so an upgrade has nothing to go stale.
WHITENOISE_USE_FINDERS = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _base.scheme == "https"
CSRF_COOKIE_SECURE = _base.scheme == "https"
# --- web UI: sign-in, sessions, security headers (CSP: spyglass/web/middleware.py) ----------
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"
SESSION_COOKIE_AGE = 14 * 24 * 3600
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
PASSWORD_RESET_TIMEOUT = 3 * 3600
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
# Failed sign-ins allowed per address and client IP (and per IP alone) in the window.
SIGN_IN_FAILURES_PER_ADDRESS = 5
SIGN_IN_FAILURES_PER_IP = 50
SIGN_IN_FAILURE_WINDOW = 15 * 60
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("SPYGLASS_LOG_LEVEL", "INFO")},
}
