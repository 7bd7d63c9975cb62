"""Delivery: run handlers for events, in batches, with exactly-once effect.

The worker runs ``deliver_batch`` for each ``<context>.deliver_events``
message, which carries many (handler id, envelope) deliveries (``deliver``,
a batch of one, serves the single ``<context>.deliver_event`` task of older
deployments):

1. Count the deliveries in the consumer's inbox rows: one ``INSERT ... ON
   CONFLICT DO UPDATE SET attempts = attempts + 1 ... RETURNING`` for the
   whole batch, committed before any handler runs. A handler that kills its
   worker every time (``os._exit``, OOM) is still counted, and stops after
   ``EVENT_MAX_ATTEMPTS`` deliveries.
2. In one transaction on the consumer's database: lock the batch's pending
   inbox rows (in key order), mark them processed, and run their handlers. A
   row already processed (a redelivery, a duplicate sent by two relays or a
   re-drive, a message re-enqueued by hand) runs nothing. A concurrent
   duplicate waits on the row lock and then finds it processed (a worker
   killed mid-handler, a duplicate, a lost broker connection:
   docs/reliability.md#messaging).
3. If a handler raises, that transaction rolls back and the batch runs again
   with a savepoint per delivery, the failed one left out, so one failing
   handler never undoes the others. Each failed delivery's inbox row gets
   ``next_attempt_at = now + backoff`` (exponential, capped), in that same
   transaction: the beat sweep sends it again then
   (``redrive_due_deliveries``), instead of a long broker countdown that
   Redis' visibility timeout would redeliver early. After the last attempt
   the delivery is dead-lettered.
4. Once the outcomes are committed in the inbox (processed, a duplicate, a
   retry scheduled, dead-lettered, deferred), the consumer confirms them to
   their publishers (``confirm_batch``): one ``<publisher>.confirm_deliveries``
   message per publishing context (a publisher whose outbox is in the
   consumer's database, its own events and every context in the shared mode,
   is confirmed directly, without a message); it removes the handlers from
   the outbox rows' ``unconfirmed`` sets. The publisher re-drives whatever stays unconfirmed
   (see ``contexts.kernel.relay``), so a message lost anywhere is sent again.

If the consumer's database is unreachable (``OperationalError`` or
``InterfaceError``: a failover, "too many clients", a network blip),
``deliver_batch`` lets the error out and the task (``contexts.kernel.tasks``)
retries the whole message with a Celery retry, which publishes it again
before the original is acknowledged: nothing is confirmed, so the
publisher's re-drive covers even a retry that could not be published.

A handler id this deployment does not know (an old worker during a rolling
deploy) is recorded in the inbox and retried later with a backoff, without
using up attempts: a newer worker runs it. A handler id its context retired
(``bus.retire``: removed on purpose) runs nothing: the delivery is closed and
confirmed.

Each event's correlation id is the current one while its handler runs, so the
events it publishes and the lines it logs carry it.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.db.models import Q
from django.utils import timezone

from contexts.kernel.bus import UnknownHandler, is_retired, subscription
from contexts.kernel.correlation import reset_correlation_id, set_correlation_id
from contexts.kernel.databases import database_for
from contexts.kernel.deployment import runs_here
from contexts.kernel.events import DomainEvent, event_type
from contexts.kernel.models import DeadLetter, InboxMessage
from contexts.kernel.relay import (
    batch_size as relay_batch_size,
)
from contexts.kernel.relay import (
    confirm_deliveries,
    confirmation_task_name,
    database_contexts,
    send_deliveries,
)
from contexts.kernel.transactions import atomic, in_transaction, on_commit

logger = logging.getLogger(__name__)

PROCESSED = "processed"
DUPLICATE = "duplicate"
RETRY = "retry"
DEAD = "dead"
DEFERRED = "deferred"
RETIRED = "retired"

#: The database is unreachable: the delivery is retried as a whole (nothing committed).
DATABASE_ERRORS = (OperationalError, InterfaceError)

# The confirmation is best effort: when the broker is down, the publisher's
# re-drive sends the event again and the duplicate is confirmed then.
_CONFIRM_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.2,
}


def max_attempts() -> int:
    return int(settings.EVENT_MAX_ATTEMPTS)


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the ``attempts``-th failed delivery: base * 2**(n-1), capped."""
    base = float(settings.EVENT_RETRY_BASE_SECONDS)
    cap = float(settings.EVENT_RETRY_MAX_SECONDS)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def stall_timeout() -> timedelta:
    """A delivery not finished this long after it started is sent again by the sweep."""
    return timedelta(seconds=float(settings.EVENT_STALL_SECONDS))


def event_from_envelope(envelope: dict[str, Any]) -> DomainEvent:
    """Rebuild the typed event from a delivery message."""
    cls = event_type(envelope["name"], int(envelope["version"]))
    return cls.from_payload(
        envelope["payload"],
        event_id=envelope["event_id"],
        occurred_at=envelope["occurred_at"],
        correlation_id=envelope["correlation_id"],
    )


@dataclass
class _Delivery:
    """One (handler id, envelope) of a delivery message."""

    handler: str
    envelope: dict[str, Any]
    attempts: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (str(self.envelope["event_id"]), self.handler)

    @property
    def log(self) -> dict[str, Any]:
        return {
            "handler": self.handler,
            "event_id": self.envelope.get("event_id"),
            "event_name": self.envelope.get("name"),
            "attempts": self.attempts,
        }


class _HandlerFailed(Exception):
    """A handler raised (not a database outage) in the batch's shared transaction."""

    def __init__(self, delivery: _Delivery, error: Exception) -> None:
        super().__init__(str(error))
        self.delivery = delivery
        self.error = error


def deliver(*, context: str, handler: str, event: dict[str, Any]) -> str:
    """Deliver ``event`` (a relay envelope) to ``handler`` of ``context``; return the outcome.

    The ``<context>.deliver_event`` task of older deployments; a batch of one.
    """
    [outcome] = deliver_batch(context=context, deliveries=[{"handler": handler, "event": event}])
    return outcome


def deliver_batch(*, context: str, deliveries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Deliver many ``{"handler", "event"}`` deliveries to ``context``'s handlers.

    Returns each delivery's outcome, in order. The batch's inbox rows are
    counted in one statement, committed before any handler runs; the handlers
    then run in one transaction, each isolated from the others' failures (see
    ``_run_batch``); finally every outcome is confirmed to its publisher, one
    message per publishing context at most. A database error (unreachable,
    failover) propagates with nothing but the counts committed and nothing
    confirmed: the task retries the whole batch.
    """
    items = [_Delivery(d["handler"], d["event"]) for d in deliveries]
    unique = list({item.key: item for item in items}.values())
    outcomes: dict[tuple[str, str], str] = {}
    known: list[_Delivery] = []
    for item in unique:
        try:
            subscription(item.handler)
        except UnknownHandler:
            if is_retired(item.handler):
                _close_retired(context, item)
                outcomes[item.key] = RETIRED
                continue
            with _correlated(item):
                _defer_unknown_handler(context, item.handler, item.envelope)
                logger.warning(
                    "event delivery deferred: handler not in this deployment", extra=item.log
                )
            outcomes[item.key] = DEFERRED
        else:
            known.append(item)
    runnable: list[_Delivery] = []
    statuses = _count_deliveries(context, known)
    for item in known:
        status = statuses[item.key]
        if status != InboxMessage.Status.PENDING:
            logger.info("event delivery skipped: already %s", status, extra=item.log)
            outcomes[item.key] = DUPLICATE if status == InboxMessage.Status.PROCESSED else DEAD
        elif item.attempts > max_attempts():
            with _correlated(item):
                _dead_letter(
                    context, item.handler, item.envelope, item.attempts - 1,
                    error=f"delivered {item.attempts - 1} times without finishing "
                    "(the worker died or the task was killed)",
                )  # fmt: skip
                logger.error("event delivery dead-lettered after worker losses", extra=item.log)
            outcomes[item.key] = DEAD
        else:
            runnable.append(item)
    outcomes.update(_run_batch(context, runnable))
    delivered = sum(1 for outcome in outcomes.values() if outcome == PROCESSED)
    logger.info(
        "events delivered",
        extra={"context": context, "deliveries": len(items), "processed": delivered},
    )
    confirm_batch(context, unique)
    return [outcomes[item.key] for item in items]


def database_retry_countdown(retries: int) -> float:
    """Seconds before a delivery whose database was unreachable runs again (capped at 30 s,
    far below Redis' visibility timeout, so the held message is never redelivered early)."""
    return min(float(settings.EVENT_RETRY_BASE_SECONDS) * 2**retries, 30.0)


@contextmanager
def _correlated(item: _Delivery) -> Iterator[None]:
    """The delivered event's correlation id is the current one (its handler's events, logs)."""
    token = set_correlation_id(item.envelope.get("correlation_id") or None)
    try:
        yield
    finally:
        reset_correlation_id(token)


def _run_batch(context: str, items: list[_Delivery]) -> dict[tuple[str, str], str]:
    """Run the handlers of ``items`` (counted, pending); return their outcomes.

    First all of them in one transaction, without savepoints (the common
    case: every handler succeeds). If one raises, that transaction rolls back
    and the batch runs again in one transaction with a savepoint per delivery,
    the failed one left out: a handler that fails then rolls back only its own
    savepoint. The failures' retries and dead letters are written in that
    transaction too. Database errors (``DATABASE_ERRORS``) are not a handler's
    failure: they end the batch (the task retries it).
    """
    if not items:
        return {}
    try:
        return _run_together(context, items)
    except _HandlerFailed as failed:
        return _run_isolated(context, items, failed)


def _run_together(context: str, items: list[_Delivery]) -> dict[tuple[str, str], str]:
    outcomes: dict[tuple[str, str], str] = {}
    with atomic(context):
        claimed = _claim(context, items)
        for item in items:
            if item.key not in claimed:
                outcomes[item.key] = DUPLICATE
                continue
            try:
                _call_handler(context, item)
            except DATABASE_ERRORS:
                raise
            except Exception as exc:
                raise _HandlerFailed(item, exc) from exc
            outcomes[item.key] = PROCESSED
    for item in items:
        logger.debug(
            "event delivered" if outcomes[item.key] == PROCESSED else "duplicate event",
            extra=item.log,
        )
    return outcomes


def _run_isolated(
    context: str, items: list[_Delivery], failed: _HandlerFailed
) -> dict[tuple[str, str], str]:
    outcomes: dict[tuple[str, str], str] = {}
    failures: list[tuple[_Delivery, Exception]] = [(failed.delivery, failed.error)]
    with atomic(context):
        for item in items:
            if item is failed.delivery:
                continue
            try:
                with atomic(context):  # a savepoint: a failure undoes this delivery only
                    outcomes[item.key] = (
                        _call_handler(context, item) if _claim(context, [item]) else DUPLICATE
                    )
            except DATABASE_ERRORS:
                raise
            except Exception as exc:
                failures.append((item, exc))
        for item, exc in failures:
            error = "".join(traceback.format_exception(exc)).strip()
            with _correlated(item):
                if item.attempts >= max_attempts():
                    _dead_letter(context, item.handler, item.envelope, item.attempts, error=error)
                    logger.error("event delivery dead-lettered", extra=item.log, exc_info=exc)
                    outcomes[item.key] = DEAD
                else:
                    _schedule_retry(
                        context, item.handler, item.envelope, item.attempts, error=error
                    )
                    logger.warning(
                        "event delivery failed; will retry", extra=item.log, exc_info=exc
                    )
                    outcomes[item.key] = RETRY
    return outcomes


def _call_handler(context: str, item: _Delivery) -> str:
    sub = subscription(item.handler)
    if sub.context != context:
        raise LookupError(f"{item.handler} is subscribed for {sub.context!r}, not {context!r}")
    event = event_from_envelope(item.envelope)
    with _correlated(item):
        sub.handler(event)
    return PROCESSED


def _claim(context: str, items: list[_Delivery]) -> set[tuple[str, str]]:
    """Mark the still-pending inbox rows of ``items`` processed; return the keys claimed.

    The rows are locked in primary-key order first, so two batches sharing
    deliveries (a re-drive overtaking the original) wait on each other instead
    of deadlocking; a concurrent duplicate waits for the other to commit and
    then finds the row processed (it is no longer pending).
    """
    alias = database_for(context)
    pairs = Q()
    for item in items:
        pairs |= Q(event_id=item.key[0], handler=item.handler)
    rows = list(
        InboxMessage.objects.using(alias)
        .select_for_update()
        .filter(pairs, status=InboxMessage.Status.PENDING)
        .order_by("pk")
        .values_list("pk", "event_id", "handler")
    )
    if not rows:
        return set()
    InboxMessage.objects.using(alias).filter(pk__in=[pk for pk, _, _ in rows]).update(
        status=InboxMessage.Status.PROCESSED, processed_at=timezone.now(), next_attempt_at=None
    )
    return {(str(event_id), handler) for _, event_id, handler in rows}


def confirm_batch(context: str, items: Iterable[_Delivery]) -> None:
    """Tell each publisher that ``context``'s inbox holds the outcome of these deliveries.

    One ``<publisher>.confirm_deliveries`` message per publishing context for
    the whole batch; deliveries of a publisher whose outbox is in the consumer's
    own database (its own events; every context in the shared mode) are
    confirmed directly, in one transaction, without a message. Never raises:
    an unconfirmed delivery is only re-driven, and the duplicate is confirmed then.
    """
    by_publisher: dict[str, list[list[str]]] = defaultdict(list)
    for item in items:
        publisher = item.envelope.get("context")
        if publisher:
            by_publisher[publisher].append([str(item.envelope["event_id"]), item.handler])
    for publisher, confirmations in by_publisher.items():
        try:
            if _shares_outbox(publisher, context):
                confirm_deliveries(context=publisher, confirmations=confirmations)
                continue
            current_app.send_task(
                confirmation_task_name(publisher),
                kwargs={"confirmations": confirmations},
                queue=publisher,
                add_to_parent=False,
                retry_policy=_CONFIRM_RETRY_POLICY,
            )
        except Exception:
            logger.warning(
                "delivery confirmation failed; the publisher will re-drive it",
                extra={"publisher": publisher, "deliveries": len(confirmations)},
                exc_info=True,
            )


def _shares_outbox(publisher: str, consumer: str) -> bool:
    """Whether ``publisher`` runs in this deployment with its outbox in ``consumer``'s
    database (always so for the consumer's own events)."""
    return runs_here(publisher) and database_for(publisher) == database_for(consumer)


def _count_deliveries(context: str, items: list[_Delivery]) -> dict[tuple[str, str], str]:
    """Insert or bump the inbox rows of ``items`` in one statement, committed on its own.

    Sets each item's ``attempts``; returns each row's status by delivery key.
    """
    if not items:
        return {}
    connection = connections[database_for(context)]
    ops = connection.ops
    table = ops.quote_name(InboxMessage._meta.db_table)
    uuid_field = InboxMessage._meta.get_field("event_id")
    envelope_field = InboxMessage._meta.get_field("envelope")
    now = ops.adapt_datetimefield_value(timezone.now())
    stall = ops.adapt_datetimefield_value(timezone.now() + stall_timeout())
    pending = InboxMessage.Status.PENDING.value
    # Rows in key order: concurrent counts of overlapping batches lock them in the same order.
    ordered = sorted(items, key=lambda item: item.key)
    params: list[Any] = []
    for item in ordered:
        params += [
            uuid_field.get_db_prep_value(uuid.uuid4(), connection),
            uuid_field.get_db_prep_value(UUID(item.key[0]), connection),
            item.handler,
            context,
            item.envelope["name"],
            int(item.envelope["version"]),
            envelope_field.get_db_prep_save(item.envelope, connection),
            pending,
            now,
            now,
            stall,
        ]
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, 1, '', %s, %s, %s)"] * len(ordered))
    sql = (
        f"INSERT INTO {table} (id, event_id, handler, context, event_name, event_version,"
        " envelope, status, attempts, last_error, received_at, last_attempt_at,"
        f" next_attempt_at) VALUES {values}"
        " ON CONFLICT (event_id, handler) DO UPDATE"
        f" SET attempts = {table}.attempts + 1,"
        " last_attempt_at = excluded.last_attempt_at,"
        f" next_attempt_at = CASE WHEN {table}.status = 'pending'"
        f" THEN excluded.next_attempt_at ELSE {table}.next_attempt_at END"
        " RETURNING event_id, handler, attempts, status"
    )
    # One statement: outside a transaction it commits on its own (no BEGIN and
    # COMMIT round trips); inside the caller's it stays a savepoint, as before.
    scope = atomic(context) if in_transaction(context) else nullcontext()
    with scope, connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    by_key = {item.key: item for item in items}
    statuses: dict[tuple[str, str], str] = {}
    for event_id, handler, attempts, status in returned:
        key = (str(UUID(str(event_id))), handler)
        by_key[key].attempts = int(attempts)
        statuses[key] = str(status)
    return statuses


def _close_retired(context: str, item: _Delivery) -> None:
    """A delivery for a handler removed on purpose: nothing to run. A pending inbox row
    of it (a retry or deferral from before the removal) is closed, so no sweep resends it."""
    InboxMessage.objects.using(database_for(context)).filter(
        event_id=item.key[0], handler=item.handler, status=InboxMessage.Status.PENDING
    ).update(
        status=InboxMessage.Status.PROCESSED,
        processed_at=timezone.now(),
        next_attempt_at=None,
        last_error="the handler was removed; nothing to run",
    )
    logger.info("event delivery for a removed handler closed", extra=item.log)


def _defer_unknown_handler(context: str, handler: str, envelope: dict[str, Any]) -> None:
    """Record a delivery for a handler id unknown here; the sweep sends it again later.

    It uses up no attempt: in a rolling deploy an older worker may take a
    message for a handler only newer workers have. The wait grows with the
    delivery's age (from EVENT_RETRY_BASE_SECONDS up to EVENT_RETRY_MAX_SECONDS).
    """
    alias = database_for(context)
    now = timezone.now()
    with atomic(context):
        row, _ = (
            InboxMessage.objects.using(alias)
            .select_for_update()
            .get_or_create(
                event_id=envelope["event_id"],
                handler=handler,
                defaults={
                    "context": context,
                    "event_name": envelope["name"],
                    "event_version": int(envelope["version"]),
                    "envelope": envelope,
                    "attempts": 0,
                    "received_at": now,
                    "last_attempt_at": now,
                },
            )
        )
        if row.status != InboxMessage.Status.PENDING:
            return
        age = (now - row.received_at).total_seconds()
        wait = min(
            max(age, float(settings.EVENT_RETRY_BASE_SECONDS)), settings.EVENT_RETRY_MAX_SECONDS
        )
        row.last_error = f"no handler {handler!r} in this deployment (retried later)"
        row.last_attempt_at = now
        row.next_attempt_at = now + timedelta(seconds=wait)
        row.save(update_fields=["last_error", "last_attempt_at", "next_attempt_at"])


def _schedule_retry(
    context: str, handler: str, envelope: dict[str, Any], attempts: int, *, error: str
) -> None:
    alias = database_for(context)
    with atomic(context):
        InboxMessage.objects.using(alias).filter(
            event_id=envelope["event_id"], handler=handler, status=InboxMessage.Status.PENDING
        ).update(last_error=error, next_attempt_at=timezone.now() + retry_delay(attempts))


def _dead_letter(
    context: str, handler: str, envelope: dict[str, Any], attempts: int, *, error: str
) -> None:
    alias = database_for(context)
    with atomic(context):
        marked = (
            InboxMessage.objects.using(alias)
            .filter(
                event_id=envelope["event_id"],
                handler=handler,
                status=InboxMessage.Status.PENDING,
            )
            .update(status=InboxMessage.Status.DEAD, last_error=error, next_attempt_at=None)
        )
        if marked:
            DeadLetter.objects.using(alias).create(
                event_id=envelope["event_id"],
                handler=handler,
                context=context,
                event_name=envelope["name"],
                event_version=int(envelope["version"]),
                envelope=envelope,
                error=error,
                attempts=attempts,
            )


def redrive_due_deliveries(
    *, limit: int | None = None, databases: Iterable[str] | None = None
) -> int:
    """Send again every pending delivery whose ``next_attempt_at`` has passed
    (in every database, or in the aliases of ``databases``).

    These are failed deliveries waiting for their backoff, deliveries whose
    message was lost or whose task was killed, and replayed dead letters.
    Claimed with ``FOR UPDATE SKIP LOCKED`` (a delivery whose handler is
    running holds its row lock, so it is skipped).
    """
    size = limit or int(settings.EVENT_RELAY_BATCH_SIZE)
    sent = 0
    for alias, db_context in database_contexts(databases).items():
        with atomic(db_context):
            now = timezone.now()
            rows = list(
                InboxMessage.objects.using(alias)
                .select_for_update(skip_locked=True)
                .filter(status=InboxMessage.Status.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at")[:size]
            )
            if not rows:
                continue
            send_deliveries([((row.context, row.handler), row.envelope) for row in rows])
            InboxMessage.objects.using(alias).filter(pk__in=[row.pk for row in rows]).update(
                next_attempt_at=now + stall_timeout()
            )
            sent += len(rows)
    return sent


def replay_dead_letters(
    *,
    ids: list[UUID] | None = None,
    handler: str | None = None,
    context: str | None = None,
    since: datetime | None = None,
    databases: Iterable[str] | None = None,
    batch_size: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Deliver open dead letters again; return how many (would be, with ``dry_run``).

    All open ones, or those matching every filter given: ``ids``, ``handler``,
    the consuming ``context``, created at or after ``since``, in ``databases``
    (aliases). Each replayed delivery starts over with a fresh attempt count;
    the dead letter stays, marked ``replayed_at``, for the record. They are
    replayed in committed batches of ``batch_size`` (default: the relay's
    batch size); ``progress`` is called with the running total after each.
    """
    size = batch_size or relay_batch_size()
    replayed = 0
    for alias, db_context in database_contexts(databases).items():
        letters = DeadLetter.objects.using(alias).filter(replayed_at__isnull=True)
        if ids is not None:
            letters = letters.filter(id__in=ids)
        if handler:
            letters = letters.filter(handler=handler)
        if context:
            letters = letters.filter(context=context)
        if since is not None:
            letters = letters.filter(created_at__gte=since)
        if dry_run:
            replayed += letters.count()
            if progress is not None:
                progress(replayed)
            continue
        while True:
            with atomic(db_context):
                batch = list(
                    letters.select_for_update(skip_locked=True).order_by("created_at")[:size]
                )
                now = timezone.now()
                for letter in batch:
                    InboxMessage.objects.using(alias).filter(
                        event_id=letter.event_id, handler=letter.handler
                    ).update(
                        status=InboxMessage.Status.PENDING,
                        attempts=0,
                        last_error="",
                        next_attempt_at=now,
                    )
                DeadLetter.objects.using(alias).filter(pk__in=[x.pk for x in batch]).update(
                    replayed_at=now
                )
                if batch:
                    on_commit(db_context, _redrive_quietly)
            if not batch:
                break
            replayed += len(batch)
            if progress is not None:
                progress(replayed)
            if len(batch) < size:
                break
    return replayed


def _redrive_quietly() -> None:
    try:
        redrive_due_deliveries()
    except Exception:
        logger.warning("redrive after replay failed; the sweep will retry", exc_info=True)
