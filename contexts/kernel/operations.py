"""The signals an operator watches, computed for every database.

Per database (``database_contexts()`` lists the aliases): the outbox lag
(unpublished rows and the age of the oldest one), the deliveries sent but not
confirmed yet that wait for a re-drive, the dead letters not replayed and the
inbox rows pending a retry. Signals owned by a context (the sagas stopped in
``NEEDS_ATTENTION``) are registered by the wiring (``config``) with
``register_signal``, so the kernel imports no context. A database that cannot
be read is reported with its error instead of its counts; the others are
still computed.

Shown by the staff-only admin page ``/admin/operator-signals/`` and by
``manage.py operator_signals [--json]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db import Error as DatabaseError
from django.db.models import Min
from django.utils import timezone

from contexts.kernel.isolation import isolated
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.relay import database_contexts

_SIGNALS: dict[str, Callable[[], int]] = {}


def register_signal(name: str, count: Callable[[], int]) -> None:
    """Add a context's signal (a count staff should keep at zero), e.g. stopped sagas."""
    _SIGNALS[name] = count


def registered_signals() -> dict[str, Callable[[], int]]:
    """The context signals registered so far, by name."""
    return dict(_SIGNALS)


@dataclass(frozen=True)
class DatabaseSignals:
    """The event machinery's backlog in one database."""

    alias: str
    outbox_unpublished: int | None = None
    oldest_unpublished_age_seconds: float | None = None
    unconfirmed_awaiting_redrive: int | None = None
    dead_letters_open: int | None = None
    inbox_pending_retry: int | None = None
    error: str = ""


@dataclass(frozen=True)
class OperatorSignals:
    """Every database's signals, the contexts' signals and when they were read."""

    at: datetime
    databases: list[DatabaseSignals]
    contexts: dict[str, int | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the ``--json`` output)."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def _database_signals(alias: str, now: datetime) -> DatabaseSignals:
    unpublished = OutboxMessage.objects.using(alias).filter(published_at__isnull=True)
    figures = unpublished.aggregate(oldest=Min("created_at"))
    oldest = figures["oldest"]
    return DatabaseSignals(
        alias=alias,
        outbox_unpublished=unpublished.count(),
        oldest_unpublished_age_seconds=(
            round((now - oldest).total_seconds(), 3) if oldest is not None else None
        ),
        unconfirmed_awaiting_redrive=OutboxMessage.objects.using(alias)
        .filter(redrive_at__isnull=False)
        .exclude(unconfirmed={})
        .count(),
        dead_letters_open=DeadLetter.objects.using(alias).filter(replayed_at__isnull=True).count(),
        inbox_pending_retry=InboxMessage.objects.using(alias)
        .filter(status=InboxMessage.Status.PENDING, attempts__gt=0)
        .count(),
    )


def operator_signals() -> OperatorSignals:
    """Compute every signal now: each database's backlog and each registered count."""
    now = timezone.now()
    databases = []
    for alias in database_contexts():
        failed: list[str] = []
        result = None
        with isolated(alias, "operator signals", failed=failed):
            result = _database_signals(alias, now)
        databases.append(result or DatabaseSignals(alias=alias, error="database unavailable"))
    contexts: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for name, count in sorted(_SIGNALS.items()):
        try:
            contexts[name] = count()
        except DatabaseError as exc:
            contexts[name] = None
            errors[name] = f"{type(exc).__name__}: {exc}"
    return OperatorSignals(at=now, databases=databases, contexts=contexts, errors=errors)
