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

Delivery state stays with the publisher. An outbox row lists its
``unconfirmed`` handlers (id -> consuming context), written with the row. A
consumer confirms a delivery once its inbox holds the outcome (a
``<publisher>.confirm_deliveries`` message naming any number of (event,
handler) pairs; ``confirm_deliveries`` removes them). The sweep re-drives a
published row still unconfirmed at its ``redrive_at`` (``redrive_unconfirmed``):
it sends the unconfirmed handlers' deliveries again, the first time
``EVENT_REDRIVE_SECONDS`` after publishing, then doubling up to
``EVENT_REDRIVE_MAX_SECONDS``. So a delivery message lost anywhere (a task
failing before its inbox commit, a message held by a killed worker until
Redis' visibility timeout) is sent again within seconds; the consumer's inbox
makes the duplicate harmless. The publisher never reads a consumer's tables,
so this works unchanged when a consumer runs as its own deployment.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
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


def confirmation_task_name(context: str) -> str:
    """The Celery task, on ``context``'s queue, confirming deliveries of its events."""
    return f"{context}.confirm_deliveries"


def redrive_delay(redrives: int) -> timedelta:
    """How long after publishing (``redrives`` = 0) or a re-drive an unconfirmed row waits."""
    seconds = settings.EVENT_REDRIVE_SECONDS * 2**redrives
    return timedelta(seconds=min(seconds, settings.EVENT_REDRIVE_MAX_SECONDS))


def subscribers_of(event_name: str, event_version: int) -> dict[str, str]:
    """Handler id -> consuming context, for every handler of this event type here."""
    return {s.handler_id: s.context for s in subscriptions_for(event_name, event_version)}


def database_contexts(only: Iterable[str] | None = None) -> dict[str, str]:
    """Each distinct database alias (or those in ``only``), with one context using it
    (to open its transaction)."""
    aliases: dict[str, str] = {}
    for context in CONTEXTS:
        aliases.setdefault(database_for(context), context)
    if only is not None:
        wanted = set(only)
        return {alias: context for alias, context in aliases.items() if alias in wanted}
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


def relay_outbox(*, limit: int | None = None, databases: Iterable[str] | None = None) -> int:
    """Send every unpublished outbox row of every database (or of the aliases in
    ``databases``); return how many were relayed.

    Runs batch after batch until a database has nothing left to claim (or
    ``limit`` rows were relayed). Broker errors propagate after the current
    batch's transaction rolled back: its rows stay unpublished for the next run.
    """
    size = batch_size()
    relayed = 0
    for alias, context in database_contexts(databases).items():
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
        for row in rows:
            if not row.unconfirmed:
                # Written before rows carried their subscribers: take today's.
                row.unconfirmed = subscribers_of(row.event_name, row.event_version)
                OutboxMessage.objects.using(alias).filter(pk=row.pk).update(
                    unconfirmed=row.unconfirmed
                )
        send_deliveries(
            [
                ((consumer, handler), envelope_of(row))
                for row in rows
                for handler, consumer in row.unconfirmed.items()
            ],
            retry_policy=retry_policy,
        )
        now = timezone.now()
        OutboxMessage.objects.using(alias).filter(pk__in=[row.pk for row in rows]).update(
            published_at=now, redrive_at=now + redrive_delay(0)
        )
    logger.debug("relayed %d outbox rows", len(rows), extra={"database": alias})
    return len(rows)


def confirm_deliveries(*, context: str, confirmations: Sequence[Sequence[str]]) -> int:
    """Mark (event id, handler id) pairs of ``context``'s outbox as delivered; return rows changed.

    A row whose handlers have all confirmed is no longer re-driven. Pairs of
    unknown or purged rows are ignored. The rows are locked (no SKIP LOCKED):
    a confirmation that overtakes its relay's commit waits for it.
    """
    handlers_by_event: dict[str, set[str]] = defaultdict(set)
    for event_id, handler in confirmations:
        handlers_by_event[str(event_id)].add(handler)
    if not handlers_by_event:
        return 0
    alias = database_for(context)
    with atomic(context):
        rows = list(
            OutboxMessage.objects.using(alias)
            .select_for_update()
            .filter(pk__in=list(handlers_by_event))
            .only("event_id", "unconfirmed", "redrive_at")
            .order_by("pk")
        )
        changed = []
        for row in rows:
            confirmed = handlers_by_event[str(row.pk)]
            remaining = {h: c for h, c in row.unconfirmed.items() if h not in confirmed}
            if remaining != row.unconfirmed or (not remaining and row.redrive_at):
                row.unconfirmed = remaining
                if not remaining:
                    row.redrive_at = None
                changed.append(row)
        if changed:
            OutboxMessage.objects.using(alias).bulk_update(changed, ["unconfirmed", "redrive_at"])
    return len(changed)


def redrive_unconfirmed(*, limit: int | None = None, databases: Iterable[str] | None = None) -> int:
    """Send again the unconfirmed deliveries of every published row whose ``redrive_at`` passed.

    Returns how many deliveries were sent. Rows are claimed with ``SKIP
    LOCKED`` (several sweeps split the work) and get their next ``redrive_at``
    (doubling) in the same transaction. ``databases`` narrows it to those aliases.
    """
    size = limit or batch_size()
    sent = 0
    for alias, context in database_contexts(databases).items():
        with atomic(context):
            now = timezone.now()
            rows = list(
                OutboxMessage.objects.using(alias)
                .select_for_update(skip_locked=True)
                .filter(redrive_at__lte=now)
                .order_by("redrive_at")[:size]
            )
            if not rows:
                continue
            sent += send_deliveries(
                [
                    ((consumer, handler), envelope_of(row))
                    for row in rows
                    for handler, consumer in row.unconfirmed.items()
                ]
            )
            for row in rows:
                row.redrives += 1
                row.redrive_at = now + redrive_delay(row.redrives) if row.unconfirmed else None
            OutboxMessage.objects.using(alias).bulk_update(rows, ["redrives", "redrive_at"])
        logger.info("re-drove %d unconfirmed outbox rows", len(rows), extra={"database": alias})
    return sent


def send_deliveries(
    deliveries: Iterable[tuple[Subscription | tuple[str, str], dict[str, Any]]],
    *,
    retry_policy: dict[str, Any] | None = None,
) -> int:
    """Send one delivery message per (subscription, envelope) on one broker connection.

    A subscription may also be given as ``(context, handler_id)``, which is
    how the relay, the sweeps and the replay command send a stored delivery.
    """
    app = current_app._get_current_object()
    sent = 0
    with app.producer_or_acquire() as producer:
        for target, envelope in deliveries:
            if isinstance(target, Subscription):
                context, handler = target.context, target.handler_id
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
