"""Which database alias each bounded context reads and writes through.

Every context has an alias named after it. In the default (shared) mode each
alias resolves to the one main database; in split mode (``DB_PER_CONTEXT=1``)
each context has a database of its own, named ``<main>_<context>``.

The users context also hosts Django's own auth, admin, session and
content-type tables (the admin's log has a foreign key to the user model), so
its alias is ``default`` in both modes: in split mode the main database *is*
the users database.

The kernel's own tables (outbox, inbox, dead letters) exist in every database,
because a context writes its outbox row in its own transaction.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

CONTEXTS: tuple[str, ...] = (
    "users",
    "catalog",
    "inventory",
    "payments",
    "orders",
    "notifications",
)

KERNEL_APP = "kernel"
#: Django's own apps (and simplejwt's token blacklist, which relates to the user
#: model) live with the users context.
PLATFORM_APPS = frozenset(
    {"admin", "auth", "contenttypes", "sessions", "messages", "token_blacklist"}
)
DEFAULT_ALIAS = "default"


def context_databases(main: dict[str, Any], *, split: bool) -> dict[str, dict[str, Any]]:
    """The DATABASES entries of the contexts' own aliases, for settings.py.

    In shared mode no extra alias is defined: every context resolves to the
    main one. In split mode each context but users gets ``<main>_<context>``.
    """
    if not split:
        return {}
    if main["ENGINE"] != "django.db.backends.postgresql":
        raise ValueError("DB_PER_CONTEXT=1 needs PostgreSQL")
    return {
        name: {**main, "NAME": f"{main['NAME']}_{name}", "TEST": {}}
        for name in CONTEXTS
        if name != "users"
    }


def database_for(context: str) -> str:
    """The database alias that ``context`` reads and writes through."""
    if context not in CONTEXTS:
        raise LookupError(f"unknown context {context!r}")
    return context if context in settings.DATABASES else DEFAULT_ALIAS


def context_of_app(app_label: str) -> str | None:
    """The context that owns the tables of ``app_label`` (None for the kernel)."""
    if app_label in CONTEXTS:
        return app_label
    if app_label in PLATFORM_APPS:
        return "users"
    return None


class ContextRouter:
    """Route every model to its context's alias; kernel tables live everywhere.

    Kernel models (outbox, inbox, dead letters) are always addressed with an
    explicit ``using=``; reaching one without it is a bug, so reads and writes
    of them fall back to the default alias only in the shared mode.
    """

    def db_for_read(self, model, **hints):
        context = context_of_app(model._meta.app_label)
        return database_for(context) if context else None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        db1 = self.db_for_read(type(obj1))
        db2 = self.db_for_read(type(obj2))
        if db1 and db2:
            return db1 == db2
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == KERNEL_APP:
            return True
        context = context_of_app(app_label)
        if context is None:
            return None
        return database_for(context) == db
