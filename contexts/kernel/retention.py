"""Retention: completed outbox and inbox rows are purged after ``EVENT_RETENTION_DAYS``.

The window must be longer than any redelivery (a broker's visibility timeout,
the sweep's retries), so that an inbox row still exists whenever its event
can arrive again. Open dead letters are kept until someone replays them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.relay import database_contexts
from contexts.kernel.transactions import atomic


def retention() -> timedelta:
    return timedelta(days=float(settings.EVENT_RETENTION_DAYS))


def purge_event_history(*, now: datetime | None = None) -> dict[str, int]:
    """Delete published outbox rows, processed inbox rows and replayed dead letters
    older than the retention window, in every database; return the counts."""
    cutoff = (now or timezone.now()) - retention()
    counts = {"outbox": 0, "inbox": 0, "dead_letters": 0}
    for alias, context in database_contexts().items():
        with atomic(context):
            counts["outbox"] += (
                OutboxMessage.objects.using(alias).filter(published_at__lt=cutoff).delete()[0]
            )
            counts["inbox"] += (
                InboxMessage.objects.using(alias)
                .filter(status=InboxMessage.Status.PROCESSED, processed_at__lt=cutoff)
                .delete()[0]
            )
            counts["dead_letters"] += (
                DeadLetter.objects.using(alias).filter(replayed_at__lt=cutoff).delete()[0]
            )
    return counts
