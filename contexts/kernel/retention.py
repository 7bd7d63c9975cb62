"""Retention: completed outbox and inbox rows are purged after ``EVENT_RETENTION_DAYS``.

The window must be longer than any redelivery (a broker's visibility timeout,
the sweep's retries), so that an inbox row still exists whenever its event
can arrive again. Open dead letters are kept until someone replays them.

At production volume one unbounded ``DELETE`` per table would run past the
task's soft time limit and roll back, and the tables would only grow. So the
purge deletes in batches of ``EVENT_RETENTION_BATCH_SIZE`` rows, each batch
its own committed transaction, and stops starting new batches once
``EVENT_RETENTION_TIME_BUDGET_SECONDS`` have passed (a budget below the soft
time limit). What is left is deleted by the next run: the beat task enqueues
a continuation at once when a run ends on its budget, so a backlog drains
over consecutive runs. Batches go round-robin over every (database, table)
pair, so one database's backlog never starves another's. A database that
fails is logged and skipped; the others are still purged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from contexts.kernel.isolation import isolated
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.relay import database_contexts
from contexts.kernel.transactions import atomic

logger = logging.getLogger(__name__)


def retention() -> timedelta:
    """How long completed event rows are kept."""
    return timedelta(days=settings.EVENT_RETENTION_DAYS)


def cutoff(now: datetime | None = None) -> datetime:
    """Rows completed before this instant are purged."""
    return (now or timezone.now()) - retention()


@dataclass(frozen=True)
class Table:
    """One kind of completed row, with the partial index its batches are read through."""

    key: str
    model: type[models.Model]
    index: str
    condition: Callable[[datetime], models.Q]

    def batch(self, alias: str, before: datetime, size: int | None = None) -> models.QuerySet:
        """The primary keys of the next batch to delete (read through ``index``)."""
        size = size or settings.EVENT_RETENTION_BATCH_SIZE
        return (
            self.model._default_manager.using(alias)
            .filter(self.condition(before))
            .values_list("pk", flat=True)[:size]
        )

    def delete_batch(self, alias: str, before: datetime, size: int | None = None) -> int:
        """Delete one batch in one statement (``DELETE ... WHERE pk IN (SELECT ... LIMIT n)``);
        return how many of this table's rows went."""
        manager = self.model._default_manager.using(alias)
        _, per_model = manager.filter(pk__in=self.batch(alias, before, size)).delete()
        return per_model.get(self.model._meta.label, 0)

    def count(self, alias: str, before: datetime) -> int:
        """How many rows a purge would delete now (a dry run)."""
        return self.model._default_manager.using(alias).filter(self.condition(before)).count()


TABLES: tuple[Table, ...] = (
    Table(
        "outbox",
        OutboxMessage,
        "outbox_published_idx",
        lambda before: models.Q(published_at__isnull=False, published_at__lt=before),
    ),
    Table(
        "inbox",
        InboxMessage,
        "inbox_processed_idx",
        lambda before: models.Q(status=InboxMessage.Status.PROCESSED, processed_at__lt=before),
    ),
    Table(
        "dead_letters",
        DeadLetter,
        "deadletter_replayed_idx",
        lambda before: models.Q(replayed_at__isnull=False, replayed_at__lt=before),
    ),
)


def purge_event_history(
    *,
    now: datetime | None = None,
    budget_seconds: float | None = None,
    batch_size: int | None = None,
    dry_run: bool = False,
    progress: Callable[[dict[str, int]], None] | None = None,
) -> dict[str, Any]:
    """Delete completed event rows older than the retention window, in every database.

    Returns the rows deleted per table, ``complete`` (False when the time
    budget ran out with rows left: call again to resume) and ``failed`` (the
    aliases whose database raised; retried on the next run). ``batch_size``
    overrides ``EVENT_RETENTION_BATCH_SIZE``; ``progress`` is called with the
    running counts after each round of batches. With ``dry_run`` nothing is
    deleted: the counts are the rows a purge would delete now.
    """
    if budget_seconds is None:
        budget_seconds = settings.EVENT_RETENTION_TIME_BUDGET_SECONDS
    deadline = time.monotonic() + budget_seconds
    before = cutoff(now)
    size = batch_size or settings.EVENT_RETENTION_BATCH_SIZE
    counts: dict[str, Any] = {table.key: 0 for table in TABLES}
    failed: list[str] = []
    if dry_run:
        for alias in database_contexts():
            with isolated(alias, "retention (dry run)", failed=failed):
                for table in TABLES:
                    counts[table.key] += table.count(alias, before)
        counts["complete"] = True
        counts["failed"] = failed
        return counts
    pending = [
        (alias, context, table)
        for alias, context in database_contexts().items()
        for table in TABLES
    ]
    # The budget counts once something was deleted: every run makes progress
    # (an empty table costs one index probe and is dropped from the round).
    progressed = False
    while pending and (not progressed or time.monotonic() < deadline):
        still = []
        for alias, context, table in pending:
            if alias in failed:
                continue
            if progressed and time.monotonic() >= deadline:
                still.append((alias, context, table))
                continue
            with isolated(alias, "retention", failed=failed):
                with atomic(context):
                    deleted = table.delete_batch(alias, before, size)
                counts[table.key] += deleted
                progressed = progressed or deleted > 0
                if deleted >= size:
                    still.append((alias, context, table))
        pending = [item for item in still if item[0] not in failed]
        if progress is not None:
            progress({table.key: counts[table.key] for table in TABLES})
    counts["complete"] = not pending
    counts["failed"] = failed
    if pending:
        logger.info(
            "event retention stopped on its time budget; the next run resumes", extra=counts
        )
    return counts
