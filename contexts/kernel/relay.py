"""The relay: committed outbox rows become batched delivery messages, one per consuming context.

Two triggers run the same code, never the web request:

- the relay loops (``relay_loop``), one per database alias, in every worker
  that consumes the queue of a context using that database (a background loop
  of ``contexts.kernel.wakeup``): ``publish`` calls ``notify(RELAY_CHANNEL)``
  in the publishing transaction, so the loop wakes once it commits, claims up
  to ``ENGINE_BATCH_SIZE`` rows and sends them; it also polls every
  ``ENGINE_POLL_SECONDS`` and runs when its worker starts;
- the beat sweep (``kernel.sweep_events``, every ``EVENT_SWEEP_SECONDS``),
  for every row still unpublished in any database: the safety net behind the
  loops (no worker running a loop, a broker outage, a relay that died
  mid-batch).

A batch is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` so that several
relays (several workers, the sweep) never wait on each other; the messages are
sent while the rows are locked, and the rows are marked published in the same
transaction. A relay that dies after sending but before committing leaves the
rows unpublished: they are sent again (at-least-once, never skipped), and the
consumer's inbox makes the duplicate harmless.

A batch's deliveries go to each *consuming* context's queue as one task
``<consumer>.deliver_events`` carrying all of that context's (handler id,
envelope) pairs (see ``contexts.kernel.tasks``); the single-delivery task
``<consumer>.deliver_event`` of older deployments is still consumed. The
consumers are those declared with the contracts (``subscribers_of``), not
only those this process runs: the queue is the consumer's wherever it runs,
so an event reaches a context in another deployment over the shared broker.

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
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from contexts.kernel.bulk import update_rows
from contexts.kernel.bus import Subscription, declared_consumers_of, subscriptions_for
from contexts.kernel.databases import CONTEXTS, database_for
from contexts.kernel.models import OutboxMessage
from contexts.kernel.transactions import atomic
from contexts.kernel.wakeup import loop

logger = logging.getLogger(__name__)

#: Celery's message header carrying the correlation id (see ``contexts.kernel.signals``).
CORRELATION_HEADER = "x_correlation_id"

#: The LISTEN channel of the relay loops. NOTIFY is scoped to a database, so
#: one name serves every database: each loop listens on its own.
RELAY_CHANNEL = "kernel_relay"


def deliver_task_name(context: str) -> str:
    """The Celery task delivering a batch of events to ``context``'s handlers, on its queue."""
    return f"{context}.deliver_events"


def single_deliver_task_name(context: str) -> str:
    """The one-delivery task of older deployments (messages of it may still be queued)."""
    return f"{context}.deliver_event"


def confirmation_task_name(context: str) -> str:
    """The Celery task, on ``context``'s queue, confirming deliveries of its events."""
    return f"{context}.confirm_deliveries"


def redrive_delay(redrives: int) -> timedelta:
    """How long after publishing (``redrives`` = 0) or a re-drive an unconfirmed row waits."""
    seconds = settings.EVENT_REDRIVE_SECONDS * 2**redrives
    return timedelta(seconds=min(seconds, settings.EVENT_REDRIVE_MAX_SECONDS))


def subscribers_of(event_name: str, event_version: int) -> dict[str, str]:
    """Handler id -> consuming context, for every consumer of this event type.

    The consumers declared with the contracts (``CONSUMES``), wherever they
    run, so an event reaches a context this deployment does not run; and the
    handlers registered here (the test suite's probes, which declare nothing).
    """
    subscribers = declared_consumers_of(event_name, event_version)
    for s in subscriptions_for(event_name, event_version):
        subscribers.setdefault(s.handler_id, s.context)
    return subscribers


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


def relay_loop(alias: str) -> Callable[[int], int]:
    """The background loop relaying ``alias``'s outbox: one batch of at most ``limit`` rows
    per run (the loop runs again while a run finds rows)."""
    context = database_contexts([alias])[alias]

    def run(limit: int) -> int:
        pending = OutboxMessage.objects.using(alias).filter(published_at__isnull=True)
        return _relay_batch(context, alias, pending.order_by("created_at")[:limit])

    run.__name__ = run.__qualname__ = f"relay_{alias}"
    return run


def register_relay_loops() -> None:
    """Register one relay loop per database alias (the kernel's ``AppConfig.ready``).

    A worker consuming the queue of any context using that database runs it:
    in the shared mode every worker, in the split mode
    the workers of the context owning the database (``users`` for the main one).
    """
    for alias, context in database_contexts().items():
        users = [name for name in CONTEXTS if database_for(name) == alias]
        loop(name=f"kernel.relay.{alias}", context=context, channel=RELAY_CHANNEL, queues=users)(
            relay_loop(alias)
        )


def _relay_batch(context: str, alias: str, queryset: QuerySet[OutboxMessage]) -> int:
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
            ]
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
            update_rows(changed, ["unconfirmed", "redrive_at"], using=alias)
    return len(changed)


def redrive_unconfirmed(*, limit: int | None = None, databases: Iterable[str] | None = None) -> int:
    """Send again the unconfirmed deliveries of every published row whose ``redrive_at`` passed.

    Returns how many deliveries were sent. Rows are claimed with ``SKIP
    LOCKED`` (several sweeps split the work) and get their next ``redrive_at``
    (doubling) in the same transaction. ``databases`` narrows it to those aliases.

    A delivery may be unconfirmed only because it still waits in its queue
    (a backlog): a row whose unconfirmed consumers have messages waiting in
    their queue is not re-driven but looked at again one window later, until
    ``EVENT_REDRIVE_MAX_SECONDS`` after publishing (then it is re-driven
    whatever the queues hold). A lost message (held by a killed worker, a task
    that failed before its inbox write) is not in the queue, so once the
    queue has drained it is re-driven.
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
            backlog = queues_with_backlog(
                {consumer for row in rows for consumer in row.unconfirmed.values()}
            )
            limit_age = timedelta(seconds=settings.EVENT_REDRIVE_MAX_SECONDS)
            redriven: list[OutboxMessage] = []
            waiting: list[OutboxMessage] = []
            for row in rows:
                queued = any(consumer in backlog for consumer in row.unconfirmed.values())
                young = row.published_at is not None and now - row.published_at < limit_age
                (waiting if queued and young else redriven).append(row)
            sent += send_deliveries(
                [
                    ((consumer, handler), envelope_of(row))
                    for row in redriven
                    for handler, consumer in row.unconfirmed.items()
                ]
            )
            for row in redriven:
                row.redrives += 1
                row.redrive_at = now + redrive_delay(row.redrives) if row.unconfirmed else None
            for row in waiting:
                row.redrive_at = now + redrive_delay(row.redrives)
            update_rows(rows, ["redrives", "redrive_at"], using=alias)
        logger.info(
            "re-drove %d unconfirmed outbox rows (%d left waiting behind a queue backlog)",
            len(redriven),
            len(waiting),
            extra={"database": alias, "backlog": sorted(backlog)},
        )
    return sent


def queues_with_backlog(queues: Iterable[str]) -> set[str]:
    """The queues among ``queues`` holding messages no worker has taken yet.

    Read from the broker (``queue_declare(passive=True)``: ``LLEN`` on
    Redis). A queue that cannot be read counts as empty: the re-drive it
    guards is harmless, and it is the safe side.
    """
    names = sorted(set(queues))
    if not names:
        return set()
    app = current_app._get_current_object()
    waiting: set[str] = set()
    try:
        with app.connection_for_write() as connection, connection.channel() as channel:
            for name in names:
                try:
                    if channel.queue_declare(queue=name, passive=True).message_count:
                        waiting.add(name)
                except Exception:  # kombu raises ChannelError for a queue with no message
                    continue
    except Exception:
        logger.warning("could not read the queues' lengths; re-driving", exc_info=True)
        return set()
    return waiting


def send_deliveries(
    deliveries: Iterable[tuple[Subscription | tuple[str, str], dict[str, Any]]],
) -> int:
    """Send (subscription, envelope) deliveries, one message per consuming context; return
    how many deliveries were sent.

    A subscription may also be given as ``(context, handler_id)``, which is
    how the relay, the sweeps and the replay command send a stored delivery.
    Each context's deliveries go in one ``<context>.deliver_events`` message
    (split in chunks of ``EVENT_RELAY_BATCH_SIZE``), all on one broker
    connection. The message's correlation header is the deliveries' common id,
    if they share one (each delivery runs under its own event's id anyway).
    """
    by_context: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for target, envelope in deliveries:
        if isinstance(target, Subscription):
            context, handler = target.context, target.handler_id
        else:
            context, handler = target
        by_context[context].append({"handler": handler, "event": envelope})
    if not by_context:
        return 0
    app = current_app._get_current_object()
    size = batch_size()
    sent = 0
    with app.producer_or_acquire() as producer:
        for context, batch in by_context.items():
            for start in range(0, len(batch), size):
                chunk = batch[start : start + size]
                _send(app, producer, context, chunk)
                sent += len(chunk)
    return sent


def _send(app, producer, context: str, deliveries: list[dict[str, Any]]) -> None:
    correlation_ids = {delivery["event"].get("correlation_id") for delivery in deliveries}
    headers = {CORRELATION_HEADER: correlation_ids.pop()} if len(correlation_ids) == 1 else {}
    app.send_task(
        deliver_task_name(context),
        kwargs={"deliveries": deliveries},
        queue=context,
        producer=producer,
        add_to_parent=False,
        headers=headers,
    )
