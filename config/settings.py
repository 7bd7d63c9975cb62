"""Django settings, read from the environment (12-factor).

Every deployment knob is an environment variable, read once here through
config/env.py (typed; an invalid value stops the process naming the variable);
code reads ``settings.X``. The defaults are the zero-setup embedded mode of
`make run` (SQLite file, SQLAlchemy-on-SQLite broker). The README lists every
variable, and a test keeps that list and this file in step.
"""

from __future__ import annotations

import logging
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config.env import env_bool, env_float, env_int, env_list, env_str
from contexts.kernel.databases import CONTEXTS, context_databases
from contexts.kernel.deployment import (
    check_remote_configuration,
    installed_contexts,
    kernel_queue,
    url_variable,
)

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
# Commands that only read the code (models, migrations, the context map) never sign
# anything, so they run without a secret: CI and a fresh checkout can call
# `manage.py makemigrations --check` with no environment.
_SIGNS_NOTHING = {"makemigrations", "showmigrations", "sqlmigrate", "contextmap"}
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"
    elif Path(sys.argv[0]).name == "manage.py" and sys.argv[1:2] and sys.argv[1] in _SIGNS_NOTHING:
        SECRET_KEY = secrets.token_urlsafe(50)  # per process: nothing it could sign survives
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

# --- Deployment: which contexts run here (contexts/kernel/deployment.py) ---------
# Only these contexts' apps, migrations, URLs, queues and beat entries are
# installed; an unknown name stops the process. A context this deployment calls
# but does not run is reached over the internal HTTP API at <CONTEXT>_URL.
SHOP_CONTEXTS = installed_contexts(env_list("SHOP_CONTEXTS", ",".join(CONTEXTS)))
CONTEXT_URLS = {name: env_str(url_variable(name), "").rstrip("/") for name in CONTEXTS}
# The internal API (/internal/v1/<context>/...) accepts `Authorization: Service
# <token>` for any token of this comma list (rotation: add the new one to every
# deployment, then move callers to it, then drop the old); calls send the first.
SERVICE_TOKENS = env_list("SERVICE_TOKEN", "")
# A call to another deployment gives up after this many seconds; calls that
# change nothing (and writes carrying an idempotency key) are retried this many
# times on a transport failure or a 5xx.
INTERNAL_API_TIMEOUT_SECONDS = env_float("INTERNAL_API_TIMEOUT_SECONDS", 3)
INTERNAL_API_RETRIES = env_int("INTERNAL_API_RETRIES", 2)
check_remote_configuration(SHOP_CONTEXTS, CONTEXT_URLS, SERVICE_TOKENS)
_USERS_HERE = "users" in SHOP_CONTEXTS

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: runserver leaves /static/ to whitenoise, as gunicorn does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from /static/, no CDN
    "django_structlog",  # access lines per request and per task (see Logging below)
    # Refresh tokens rotate; a used one is blacklisted (tables on the users database).
    *(["rest_framework_simplejwt.token_blacklist"] if _USERS_HERE else []),
    "contexts.kernel",
    *(f"contexts.{name}" for name in SHOP_CONTEXTS),
    "config",  # wiring only: the seed_demo command
]
# `make bench` compares the order flow with two yardsticks mounted only for it: a
# bare insert endpoint and the same checkout written as one plain transaction.
# Never on in production.
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS", False)
# Where each process of a benchmark run writes its SQL statement count (bench/counters.py).
BENCH_STATEMENT_COUNTS_DIR = env_str("BENCH_STATEMENT_COUNTS_DIR", "")
if BENCH_ENDPOINTS:
    INSTALLED_APPS += ["bench.bare", "bench.plain"]
    # The yardsticks' tables belong to no context, on purpose.
    SILENCED_SYSTEM_CHECKS = ["boundaries.E004"]

MIDDLEWARE = [
    "contexts.kernel.middleware.CorrelationIdMiddleware",
    # After the correlation id (its access line carries it), before anything that answers.
    "django_structlog.middlewares.RequestMiddleware",
    "contexts.kernel.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
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
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
CONN_MAX_AGE = env_int("CONN_MAX_AGE", 60)
DB_PER_CONTEXT = env_bool("DB_PER_CONTEXT", False)
DATABASES: dict[str, Any] = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=True
    ),
}
# An unreachable PostgreSQL fails a connect after this many seconds instead of
# hanging the request or task that needs it (libpq waits forever by default).
DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", DATABASE_CONNECT_TIMEOUT
    )
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

# Without the users context, Django's own user model holds the staff accounts of
# this deployment's admin (`manage.py createsuperuser`); API callers are token users.
AUTH_USER_MODEL = "users.User" if _USERS_HERE else "auth.User"
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

# --- Static files (whitenoise; docs/static-files.md) ---------------------------
# The web process serves /static/ itself, DEBUG on or off, from STATIC_ROOT as
# `manage.py collectstatic` fills it (the Dockerfile, `make run` and compose run
# it). Names carry a content hash from collectstatic's manifest, so browsers may
# cache them forever, and each file is stored gzipped beside it. STATIC_MANIFEST=0
# uses plain names that need no collectstatic (`make test`: the suite collects
# into a temporary STATIC_ROOT only where it checks the served files).
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Request bodies over 1 MB are answered 413 by BodySizeLimitMiddleware.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

SHOP_CURRENCY = env_str("SHOP_CURRENCY", "USD")
# How long an order may hold stock before the expiry sweep releases it.
INVENTORY_RESERVATION_TTL_SECONDS = env_int("INVENTORY_RESERVATION_TTL_SECONDS", 900)

# Payments: the gateway adapter (a dotted path to a PaymentGateway class; the
# built-in simulated gateway by default) and how long it may take to answer.
PAYMENT_GATEWAY = env_str("PAYMENT_GATEWAY", "contexts.payments.simulated_gateway.SimulatedGateway")
PAYMENT_GATEWAY_TIMEOUT_SECONDS = env_float("PAYMENT_GATEWAY_TIMEOUT_SECONDS", 10)
# Reconciliation (payments.reconcile_payments, beat): how often it runs, and how
# long a payment left pending, voided unconfirmed or owed must be unchanged
# before it settles it against the gateway (the saga is given the time first).
PAYMENTS_RECONCILE_INTERVAL_SECONDS = env_float("PAYMENTS_RECONCILE_INTERVAL_SECONDS", 60)
PAYMENTS_RECONCILE_AFTER_SECONDS = env_float("PAYMENTS_RECONCILE_AFTER_SECONDS", 300)

# Throttle counters must be shared by every web process: set CACHE_URL to a
# Redis URL in production (the local-memory default is per process).
CACHE_URL = env_str("CACHE_URL", "")
# A cache that hangs must not hang every request (throttles read it first).
CACHE_SOCKET_TIMEOUT = env_float("CACHE_SOCKET_TIMEOUT", 2)
CACHE_CONNECT_TIMEOUT = env_float("CACHE_CONNECT_TIMEOUT", 2)
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {
                "socket_timeout": CACHE_SOCKET_TIMEOUT,
                "socket_connect_timeout": CACHE_CONNECT_TIMEOUT,
            },
        }
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
    # The access token is verified locally everywhere (shared signing key). Where
    # the users context runs, the account is loaded (a deactivated one is refused at
    # once); elsewhere the token's claims are the user (contexts.kernel.authentication).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication"
        if _USERS_HERE
        else "contexts.kernel.authentication.StatelessJWTAuthentication",
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
        "anon": env_str("THROTTLE_ANON_RATE", "600/minute"),
        "user": env_str("THROTTLE_USER_RATE", "1200/minute"),
        "auth": env_str("THROTTLE_AUTH_RATE", "30/minute"),
    },
    # Proxies in front of the app whose X-Forwarded-For may be trusted to find the
    # client's IP. 0: the socket address only (a client cannot pick a new IP per request).
    "NUM_PROXIES": env_int("THROTTLE_NUM_PROXIES", 0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # A refresh answers a new refresh token too; the one used is blacklisted.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # A token user's id is the UUID of the account, is_staff the token's claim.
    "TOKEN_USER_CLASS": "contexts.kernel.authentication.TokenUser",
}
# Login brute-force protection (contexts/users/lockout.py): after this many failed
# sign-ins for one email within the window, the token endpoint answers 429 for it
# until the window passes (counters in the Django cache).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)

# --- Readiness probe (config/health.py) ---------------------------------------
# /health/ready keeps its answer this many seconds per process, so a flood of
# probes costs one round of database and broker checks per interval (0: none kept).
HEALTH_READY_CACHE_SECONDS = env_float("HEALTH_READY_CACHE_SECONDS", 1)

SPECTACULAR_SETTINGS = {
    "TITLE": "Shop API",
    "DESCRIPTION": "E-commerce backend: a Django modular monolith with extractable contexts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api",
    # The internal API has its own document at /internal/schema/ (config/urls.py).
    "PREPROCESSING_HOOKS": ["contexts.kernel.remote.schema.without_internal_endpoints"],
}

# The API docs' pages load Swagger UI and Redoc from this deployment's /static/
# (drf-spectacular-sidecar), nothing from a CDN, and Swagger UI calls no online
# validator: they work offline and leak nothing to third parties.
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    }
)

# --- Celery ----------------------------------------------------------------
# At-least-once delivery (docs/reliability.md): late ack, requeue on worker loss,
# prefetch 1, time limits, JSON only; effects are made exactly-once by inboxes.
CELERY_BROKER_URL = env_str(
    "CELERY_BROKER_URL", f"sqla+sqlite:///{BASE_DIR / 'celery-broker.sqlite3'}"
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 1)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 50)
# Every Redis command and connect gives up after these many seconds, so a hung
# broker (failover, a half-open connection) cannot hang a web request after its
# commit: the in-request relay fails fast and leaves the row to the sweep.
CELERY_BROKER_SOCKET_TIMEOUT = env_float("CELERY_BROKER_SOCKET_TIMEOUT", 5)
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 3)
# The visibility timeout applies to Redis (and SQS); kombu's SQLAlchemy transport
# (the embedded default) hands its options to create_engine, which rejects them.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 300)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
        "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    }
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
    if CELERY_BROKER_URL.startswith("sqs://")
    else {}
)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# One queue per context: a task named "<context>.<name>" runs on that context's
# queue, so each context's workers scale on their own (`celery worker -Q orders`).
# The kernel's tasks (the event sweep, retention) go to the default queue:
# `default` in the monolith; a deployment running only some contexts gets one of
# its own (`default-payments`), so deployments sharing a broker never take each
# other's sweeps (contexts/kernel/deployment.py: kernel_queue).
CELERY_TASK_DEFAULT_QUEUE = kernel_queue(SHOP_CONTEXTS)
# A worker started without -Q consumes the queues of the contexts this deployment
# runs; the routes name every context's queue, so a message for a context run
# elsewhere goes to the queue its own workers consume.
CELERY_TASK_QUEUES = [Queue(name) for name in (CELERY_TASK_DEFAULT_QUEUE, *SHOP_CONTEXTS)]
CELERY_TASK_ROUTES = {f"{name}.*": {"queue": name} for name in CONTEXTS}
# A task killed by its hard time limit goes back to the queue (like a lost
# worker); the event inbox counts deliveries and dead-letters after the last.
CELERY_TASK_ACKS_ON_TIMEOUT = False
# Reuse database connections across tasks (Celery's Django fixup otherwise
# closes them around every task, ~3x on a task writing a row); config/celery.py
# applies CONN_MAX_AGE and health checks at task boundaries, as Django does per request.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)

# --- Domain events (contexts/kernel: outbox, relay, inbox; docs/events.md) -----
EVENT_SWEEP_SECONDS = env_float("EVENT_SWEEP_SECONDS", 2)
EVENT_RELAY_BATCH_SIZE = env_int("EVENT_RELAY_BATCH_SIZE", 200)
EVENT_MAX_ATTEMPTS = env_int("EVENT_MAX_ATTEMPTS", 5)
EVENT_RETRY_BASE_SECONDS = env_float("EVENT_RETRY_BASE_SECONDS", 2)
EVENT_RETRY_MAX_SECONDS = env_float("EVENT_RETRY_MAX_SECONDS", 300)
EVENT_STALL_SECONDS = env_float("EVENT_STALL_SECONDS", 600)
EVENT_RETENTION_DAYS = env_float("EVENT_RETENTION_DAYS", 7)

# Retention deletes in committed batches of this many rows per table and stops
# starting new ones after the budget (below the soft time limit, so a run
# never rolls back); a run ending on its budget enqueues the next at once.
EVENT_RETENTION_BATCH_SIZE = env_int("EVENT_RETENTION_BATCH_SIZE", 5000)
EVENT_RETENTION_TIME_BUDGET_SECONDS = env_float("EVENT_RETENTION_TIME_BUDGET_SECONDS", 30)
if EVENT_RETENTION_TIME_BUDGET_SECONDS >= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        "EVENT_RETENTION_TIME_BUDGET_SECONDS must be below CELERY_TASK_SOFT_TIME_LIMIT."
    )

# A published event whose consumers have not all confirmed it is sent again
# this long after publishing, then after twice as long each time, up to the max.
EVENT_REDRIVE_SECONDS = env_float("EVENT_REDRIVE_SECONDS", 5)
EVENT_REDRIVE_MAX_SECONDS = env_float("EVENT_REDRIVE_MAX_SECONDS", 300)

# Background loops in every worker (contexts/kernel/wakeup.py: the relay, the
# saga runner): woken by LISTEN/NOTIFY, and at the latest after this many
# seconds (SQLite has no LISTEN: it is only polled); each run claims up to
# ENGINE_BATCH_SIZE units of work.
ENGINE_POLL_SECONDS = env_float("ENGINE_POLL_SECONDS", 1)
ENGINE_BATCH_SIZE = env_int("ENGINE_BATCH_SIZE", 100)
# How many of a prefork worker's pool processes run each per-process loop (the saga runner;
# docs/performance.md: on two cores one is faster than two).
ENGINE_LOOP_PROCESSES = env_int("ENGINE_LOOP_PROCESSES", 1)

# How often beat looks for sagas whose step is overdue (a lost message, a dead
# worker's lease that ended); see the orders saga settings below.
ORDERS_SAGA_SWEEP_SECONDS = env_float("ORDERS_SAGA_SWEEP_SECONDS", 2)

# How often beat sends the emails not sent at commit and the retries that are due.
NOTIFICATION_EMAIL_SWEEP_SECONDS = env_float("NOTIFICATION_EMAIL_SWEEP_SECONDS", 30)

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
        "schedule": ORDERS_SAGA_SWEEP_SECONDS,
        "options": {"expires": max(ORDERS_SAGA_SWEEP_SECONDS, 1)},
    },
    "payments.reconcile_payments": {
        "task": "payments.reconcile_payments",
        "schedule": PAYMENTS_RECONCILE_INTERVAL_SECONDS,
        "options": {"expires": PAYMENTS_RECONCILE_INTERVAL_SECONDS},
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
        "schedule": NOTIFICATION_EMAIL_SWEEP_SECONDS,
        "options": {"expires": NOTIFICATION_EMAIL_SWEEP_SECONDS},
    },
}

# Beat schedules the kernel's entries and those of the contexts this deployment runs.
CELERY_BEAT_SCHEDULE = {
    name: entry
    for name, entry in CELERY_BEAT_SCHEDULE.items()
    if name.partition(".")[0] in ("kernel", *SHOP_CONTEXTS)
}

# --- Orders saga (contexts/orders/saga/; docs/order-saga.md) ----------------
# Charge attempts before a failing gateway cancels the order (PAYMENT_FAILED);
# retries back off exponentially from the base, capped; a worker running a step
# renews its lease every third of it (a heartbeat), so a lease that ends means
# the worker is dead and the sweep resumes the step; a step before the payment
# that is still unfinished after its deadline compensates.
ORDERS_PAYMENT_MAX_ATTEMPTS = env_int("ORDERS_PAYMENT_MAX_ATTEMPTS", 4)
ORDERS_SAGA_MAX_ATTEMPTS = env_int("ORDERS_SAGA_MAX_ATTEMPTS", 8)
# Attempts of a step after the payment (confirm) or of a compensation (release,
# refund, restock) before the saga stops in NEEDS_ATTENTION for staff to resume.
ORDERS_SAGA_COMPENSATION_MAX_ATTEMPTS = env_int("ORDERS_SAGA_COMPENSATION_MAX_ATTEMPTS", 25)
ORDERS_SAGA_RETRY_BASE_SECONDS = env_float("ORDERS_SAGA_RETRY_BASE_SECONDS", 0.2)
ORDERS_SAGA_RETRY_MAX_SECONDS = env_float("ORDERS_SAGA_RETRY_MAX_SECONDS", 30)
ORDERS_SAGA_LEASE_SECONDS = env_float("ORDERS_SAGA_LEASE_SECONDS", 4)
ORDERS_SAGA_STEP_DEADLINE_SECONDS = env_float("ORDERS_SAGA_STEP_DEADLINE_SECONDS", 120)
ORDERS_SAGA_SWEEP_GRACE_SECONDS = env_float("ORDERS_SAGA_SWEEP_GRACE_SECONDS", 2)
ORDERS_IDEMPOTENCY_KEY_TTL_HOURS = env_float("ORDERS_IDEMPOTENCY_KEY_TTL_HOURS", 24)

# --- Email -----------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds an SMTP connect or reply may take before the send fails (and is retried).
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "shop@localhost")
# Send attempts of one notification's email before it is given up.
NOTIFICATION_EMAIL_MAX_ATTEMPTS = env_int("NOTIFICATION_EMAIL_MAX_ATTEMPTS", 5)
# Where django.core.mail.backends.filebased.EmailBackend writes (tests, demos).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / ".run" / "emails"))

# --- Logging ---------------------------------------------------------------
# One JSON object per line, with the correlation id (contexts/kernel/logs.py);
# LOG_FORMAT=console for the same fields in a human layout (`make run`).
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "json")
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
