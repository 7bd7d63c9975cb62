"""Django settings, read from the environment (12-factor).

Every deployment knob is an environment variable; the defaults are the
zero-setup embedded mode of `make run` (SQLite file, SQLAlchemy-on-SQLite
broker). The README lists every variable.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from contexts.kernel.databases import CONTEXTS, context_databases

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_structlog",  # access lines per request and per task (see Logging below)
    # Refresh tokens rotate; a used one is blacklisted (tables on the users database).
    "rest_framework_simplejwt.token_blacklist",
    "contexts.kernel",
    *(f"contexts.{name}" for name in CONTEXTS),
    "config",  # wiring only: the seed_demo command
]
# `make bench` compares against a bare insert endpoint; never on in production.
BENCH_BARE_ENDPOINT = env_bool("BENCH_BARE_ENDPOINT", False)
if BENCH_BARE_ENDPOINT:
    INSTALLED_APPS.append("bench.bare")
    # The yardstick's one table belongs to no context, on purpose.
    SILENCED_SYSTEM_CHECKS = ["boundaries.E004"]

MIDDLEWARE = [
    "contexts.kernel.middleware.CorrelationIdMiddleware",
    # After the correlation id (its access line carries it), before anything that answers.
    "django_structlog.middlewares.RequestMiddleware",
    "contexts.kernel.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "contexts.kernel.middleware.MethodNotAllowedMiddleware",
]

ROOT_URLCONF = "config.urls"
APPEND_SLASH = False
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------
# One alias per context. By default every context resolves to "default"; with
# DB_PER_CONTEXT=1 each context except users gets its own database, named
# after the main one (see contexts/kernel/databases.py and docs/).
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
CONN_MAX_AGE = env_int("CONN_MAX_AGE", 60)
DB_PER_CONTEXT = env_bool("DB_PER_CONTEXT", False)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=True
    ),
}
DATABASES.update(context_databases(DATABASES["default"], split=DB_PER_CONTEXT))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Embedded mode: web, worker and beat share one file. Take the write lock at
    # BEGIN (a deferred transaction upgrading its lock fails at once with
    # "database is locked"), wait for it instead of failing, and let WAL keep
    # reads running alongside the writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASE_ROUTERS = ["contexts.kernel.databases.ContextRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Request bodies over 1 MB are answered 413 by BodySizeLimitMiddleware.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

SHOP_CURRENCY = os.environ.get("SHOP_CURRENCY", "USD")
# How long an order may hold stock before the expiry sweep releases it.
INVENTORY_RESERVATION_TTL_SECONDS = env_int("INVENTORY_RESERVATION_TTL_SECONDS", 900)

# Payments: the gateway adapter (a dotted path to a PaymentGateway class; the
# built-in simulated gateway by default) and how long it may take to answer.
PAYMENT_GATEWAY = os.environ.get(
    "PAYMENT_GATEWAY", "contexts.payments.simulated_gateway.SimulatedGateway"
)
PAYMENT_GATEWAY_TIMEOUT_SECONDS = float(os.environ.get("PAYMENT_GATEWAY_TIMEOUT_SECONDS") or 10)

# Throttle counters must be shared by every web process: set CACHE_URL to a
# Redis URL in production (the local-memory default is per process).
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Transport security (all off by default so plain HTTP on localhost works) --
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
# e.g. SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https behind a TLS proxy.
_proxy_header = env_list("SECURE_PROXY_SSL_HEADER", "")
SECURE_PROXY_SSL_HEADER = tuple(_proxy_header) if len(_proxy_header) == 2 else None
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- REST framework ------------------------------------------------------
API_THROTTLE = env_bool("API_THROTTLE", True)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["contexts.kernel.api.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "contexts.kernel.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "contexts.kernel.schema.AutoSchema",
    "EXCEPTION_HANDLER": "contexts.kernel.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": [
        "contexts.kernel.throttling.AnonThrottle",
        "contexts.kernel.throttling.UserThrottle",
        "contexts.kernel.throttling.AuthThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("THROTTLE_ANON_RATE", "600/minute"),
        "user": os.environ.get("THROTTLE_USER_RATE", "1200/minute"),
        "auth": os.environ.get("THROTTLE_AUTH_RATE", "30/minute"),
    },
    # Proxies in front of the app whose X-Forwarded-For may be trusted to find the
    # client's IP. 0: the socket address only (a client cannot pick a new IP per request).
    "NUM_PROXIES": env_int("THROTTLE_NUM_PROXIES", 0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": os.environ.get("JWT_SIGNING_KEY", SECRET_KEY),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # A refresh answers a new refresh token too; the one used is blacklisted.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}
# Login brute-force protection (contexts/users/lockout.py): after this many failed
# sign-ins for one email within the window, the token endpoint answers 429 for it
# until the window passes (counters in the Django cache).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)

SPECTACULAR_SETTINGS = {
    "TITLE": "Shop API",
    "DESCRIPTION": "E-commerce backend: a Django modular monolith with extractable contexts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api",
}

# --- Celery ----------------------------------------------------------------
# At-least-once delivery (RELIABILITY.md): late ack, requeue on worker loss,
# prefetch 1, time limits, JSON only; effects are made exactly-once by inboxes.
CELERY_BROKER_URL = os.environ.get(
    "CELERY_BROKER_URL", f"sqla+sqlite:///{BASE_DIR / 'celery-broker.sqlite3'}"
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 50)
# The visibility timeout applies to Redis (and SQS); kombu's SQLAlchemy transport
# (the embedded default) hands its options to create_engine, which rejects it.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "sqs://"))
    else {}
)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# One queue per context: a task named "<context>.<name>" runs on that context's
# queue, so each context's workers scale on their own (`celery worker -Q orders`).
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue(name) for name in ("default", *CONTEXTS)]
CELERY_TASK_ROUTES = {f"{name}.*": {"queue": name} for name in CONTEXTS}
# A task killed by its hard time limit goes back to the queue (like a lost
# worker); the event inbox counts deliveries and dead-letters after the last.
CELERY_TASK_ACKS_ON_TIMEOUT = False
# Reuse database connections across tasks (Celery's Django fixup otherwise
# closes them around every task, ~3x on a task writing a row); config/celery.py
# applies CONN_MAX_AGE and health checks at task boundaries, as Django does per request.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)

# --- Domain events (contexts/kernel: outbox, relay, inbox; docs/events.md) -----
EVENT_SWEEP_SECONDS = float(os.environ.get("EVENT_SWEEP_SECONDS") or 2)
EVENT_RELAY_BATCH_SIZE = env_int("EVENT_RELAY_BATCH_SIZE", 200)
EVENT_MAX_ATTEMPTS = env_int("EVENT_MAX_ATTEMPTS", 5)
EVENT_RETRY_BASE_SECONDS = float(os.environ.get("EVENT_RETRY_BASE_SECONDS") or 2)
EVENT_RETRY_MAX_SECONDS = float(os.environ.get("EVENT_RETRY_MAX_SECONDS") or 300)
EVENT_STALL_SECONDS = float(os.environ.get("EVENT_STALL_SECONDS") or 600)
EVENT_RETENTION_DAYS = float(os.environ.get("EVENT_RETENTION_DAYS") or 7)

# Periodic tasks, scheduled by name (`celery -A config beat`). Each expires
# after its interval, so a backlog never runs a pile of stale sweeps.
CELERY_BEAT_SCHEDULE = {
    "kernel.sweep_events": {
        "task": "kernel.sweep_events",
        "schedule": EVENT_SWEEP_SECONDS,
        "options": {"expires": max(EVENT_SWEEP_SECONDS, 1)},
    },
    "kernel.purge_event_history": {
        "task": "kernel.purge_event_history",
        "schedule": crontab(hour=3, minute=17),
    },
    "inventory.expire_reservations": {
        "task": "inventory.expire_reservations",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "orders.resume_stalled_sagas": {
        "task": "orders.resume_stalled_sagas",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    "orders.purge_idempotency_keys": {
        "task": "orders.purge_idempotency_keys",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    "users.flush_expired_tokens": {
        "task": "users.flush_expired_tokens",
        "schedule": crontab(hour=4, minute=7),
    },
    "notifications.send_due_emails": {
        "task": "notifications.send_due_emails",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
}

# --- Orders saga (contexts/orders/saga.py; docs/order-saga.md) ----------------
# Charge attempts before a failing gateway cancels the order (PAYMENT_FAILED);
# retries back off exponentially from the base, capped; a step held longer than
# the lease by a worker is presumed dead and resumed by the sweep; a step before
# the payment that is still unfinished after its deadline compensates.
ORDERS_PAYMENT_MAX_ATTEMPTS = env_int("ORDERS_PAYMENT_MAX_ATTEMPTS", 4)
ORDERS_SAGA_MAX_ATTEMPTS = env_int("ORDERS_SAGA_MAX_ATTEMPTS", 8)
ORDERS_SAGA_RETRY_BASE_SECONDS = float(os.environ.get("ORDERS_SAGA_RETRY_BASE_SECONDS") or 0.2)
ORDERS_SAGA_RETRY_MAX_SECONDS = float(os.environ.get("ORDERS_SAGA_RETRY_MAX_SECONDS") or 30)
ORDERS_SAGA_LEASE_SECONDS = float(os.environ.get("ORDERS_SAGA_LEASE_SECONDS") or 60)
ORDERS_SAGA_STEP_DEADLINE_SECONDS = float(
    os.environ.get("ORDERS_SAGA_STEP_DEADLINE_SECONDS") or 120
)
ORDERS_SAGA_SWEEP_GRACE_SECONDS = float(os.environ.get("ORDERS_SAGA_SWEEP_GRACE_SECONDS") or 5)
ORDERS_IDEMPOTENCY_KEY_TTL_HOURS = float(os.environ.get("ORDERS_IDEMPOTENCY_KEY_TTL_HOURS") or 24)

# --- Email -----------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "shop@localhost")
# Where django.core.mail.backends.filebased.EmailBackend writes (tests, demos).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / ".run" / "emails"))

# --- Logging ---------------------------------------------------------------
# One JSON object per line, with the correlation id (contexts/kernel/logs.py);
# LOG_FORMAT=console for the same fields in a human layout (`make run`).
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "contexts.kernel.logs.JsonFormatter", "renderer": LOG_FORMAT},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # The access lines below replace Django's, runserver's and Celery's own
    # per-request and per-task lines ("Not Found: ...", "Task ... received",
    # "... succeeded in ..."); Django's 5xx lines with their traceback stay.
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
    },
}
# Access lines (django-structlog, contexts/kernel/logs.py): one per request
# ("request_finished") and one per Celery task ("task_succeeded"/"task_failed");
# the "request_started", "task_started" and "task_enqueued" lines are DEBUG.
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
DJANGO_STRUCTLOG_CELERY_TASK_START_LOG_LEVEL = logging.DEBUG
# Behind a proxy the socket address is the proxy's; X-Forwarded-For is the client's to forge.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
