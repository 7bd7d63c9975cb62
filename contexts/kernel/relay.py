"""The relay: committed outbox rows become one Celery message per subscribing handler.

Two triggers run the same code:

- right after the publishing transaction commits (``publish`` registers
  ``relay_after_commit`` with ``on_commit``), for the rows it just wrote;
- the beat sweep (``kernel.sweep_events``, every ``EVENT_SWEEP_SECONDS``),
  for every row still unpublished in any database: after a broker outage, a
  crash between commit and send, or a relay that died mid-batch.

A batch is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` so that several
relays never wait on each other; the messages are sent while the rows are
locked, and the rows are marked published in the same transaction. A relay
that dies after sending but before committing leaves the rows unpublished: they
are sent again (at-least-once, never skipped), and the consumer's inbox makes
the duplicate harmless.

Each message goes to the *consuming* context's queue as the task
``<consumer>.deliver_event`` (see ``contexts.kernel.tasks``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from celery import current_app
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from contexts.kernel.bus import Subscription, subscriptions_for
from contexts.kernel.databases import CONTEXTS, database_for
from contexts.kernel.models import OutboxMessage
from contexts.kernel.transactions import atomic

logger = logging.getLogger(__name__)

#: Celery's message header carrying the correlation id (see ``contexts.kernel.signals``).
CORRELATION_HEADER = "x_correlation_id"

# The on-commit path runs in the publisher's request: give up fast when the
# broker is down and leave the row to the sweep.
_FAST_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.2,
}


def deliver_task_name(context: str) -> str:
    """The Celery task delivering events to ``context``'s handlers, on its queue."""
    return f"{context}.deliver_event"


def database_contexts() -> dict[str, str]:
    """Each distinct database alias, with one context using it (to open its transaction)."""
    aliases: dict[str, str] = {}
    for context in CONTEXTS:
        aliases.setdefault(database_for(context), context)
    return aliases


def envelope_of(row: OutboxMessage) -> dict[str, Any]:
    """The JSON message a handler receives: the event's envelope and payload."""
    return {
        "name": row.event_name,
        "version": row.event_version,
        "context": row.context,
        "event_id": str(row.event_id),
        "occurred_at": row.occurred_at.isoformat(),
        "correlation_id": row.correlation_id,
        "payload": row.payload,
    }


def batch_size() -> int:
    return int(settings.EVENT_RELAY_BATCH_SIZE)


def relay_outbox(*, limit: int | None = None) -> int:
    """Send every unpublished outbox row of every database; return how many were relayed.

    Runs batch after batch until a database has nothing left to claim (or
    ``limit`` rows were relayed). Broker errors propagate after the current
    batch's transaction rolled back: its rows stay unpublished for the next run.
    """
    size = batch_size()
    relayed = 0
    for alias, context in database_contexts().items():
        while limit is None or relayed < limit:
            take = size if limit is None else min(size, limit - relayed)
            pending = OutboxMessage.objects.using(alias).filter(published_at__isnull=True)
            count = _relay_batch(context, alias, pending.order_by("created_at")[:take])
            relayed += count
            if count < take:
                break
    return relayed


def relay_events(*, context: str, event_ids: Iterable[UUID]) -> int:
    """Send the given outbox rows of ``context`` if they are still unpublished."""
    alias = database_for(context)
    pending = OutboxMessage.objects.using(alias).filter(
        event_id__in=list(event_ids), published_at__isnull=True
    )
    return _relay_batch(context, alias, pending, retry_policy=_FAST_RETRY_POLICY)


def relay_after_commit(context: str, event_ids: list[UUID]) -> None:
    """``publish``'s on-commit hook: relay the new rows now, or leave them to the sweep.

    Never raises: the publishing transaction has committed, and its request
    must not fail because the broker is unreachable.
    """
    try:
        relay_events(context=context, event_ids=event_ids)
    except Exception:
        logger.warning(
            "outbox relay after commit failed; the sweep will retry",
            extra={"event_ids": [str(event_id) for event_id in event_ids], "context": context},
            exc_info=True,
        )


def _relay_batch(
    context: str,
    alias: str,
    queryset: QuerySet[OutboxMessage],
    *,
    retry_policy: dict[str, Any] | None = None,
) -> int:
    with atomic(context):
        rows = list(queryset.select_for_update(skip_locked=True))
        if not rows:
            return 0
        send_deliveries(
            [(sub, envelope_of(row)) for row in rows for sub in _subscriptions(row)],
            retry_policy=retry_policy,
        )
        OutboxMessage.objects.using(alias).filter(pk__in=[row.pk for row in rows]).update(
            published_at=timezone.now()
        )
    logger.debug("relayed %d outbox rows", len(rows), extra={"database": alias})
    return len(rows)


def _subscriptions(row: OutboxMessage) -> list[Subscription]:
    return subscriptions_for(row.event_name, row.event_version)


def send_deliveries(
    deliveries: Iterable[tuple[Subscription | tuple[str, str], dict[str, Any]]],
    *,
    retry_policy: dict[str, Any] | None = None,
) -> int:
    """Send one delivery message per (subscription, envelope) on one broker connection.

    A subscription may also be given as ``(context, handler_name)``, which is
    how the sweep and the replay command resend a stored delivery.
    """
    app = current_app._get_current_object()
    sent = 0
    with app.producer_or_acquire() as producer:
        for target, envelope in deliveries:
            if isinstance(target, Subscription):
                context, handler = target.context, target.handler_name
            else:
                context, handler = target
            _send(app, producer, context, handler, envelope, retry_policy)
            sent += 1
    return sent


def _send(app, producer, context, handler, envelope, retry_policy) -> None:
    options: dict[str, Any] = {}
    if retry_policy is not None:
        options["retry_policy"] = retry_policy
    app.send_task(
        deliver_task_name(context),
        kwargs={"handler": handler, "event": envelope},
        queue=context,
        producer=producer,
        add_to_parent=False,
        headers={CORRELATION_HEADER: envelope.get("correlation_id")},
        **options,
    )
