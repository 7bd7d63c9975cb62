"""Delivery: run one handler for one event, with exactly-once effect.

The worker runs ``deliver`` for each ``<context>.deliver_event`` message:

1. Count the delivery in the consumer's inbox row (``INSERT ... ON CONFLICT
   DO UPDATE SET attempts = attempts + 1``), committed before the handler
   runs. A handler that kills its worker every time (``os._exit``, OOM) is
   still counted, and stops after ``EVENT_MAX_ATTEMPTS`` deliveries.
2. In one transaction on the consumer's database: mark the inbox row
   processed with a conditional update (``WHERE status = 'pending'``), then
   run the handler. If the row was already processed (a redelivery, a
   duplicate sent by two relays, a message re-enqueued by hand), nothing
   runs. A concurrent duplicate waits on the row lock and then sees it
   processed (a worker killed mid-handler, a duplicate, a lost broker
   connection: docs/reliability.md#messaging).
3. If the handler raises, the transaction rolls back and the inbox row gets
   ``next_attempt_at = now + backoff`` (exponential, capped): the beat sweep
   sends it again then (``redrive_due_deliveries``), instead of a long broker
   countdown that Redis' visibility timeout would redeliver early. After
   the last attempt the delivery is dead-lettered.
4. Once the outcome is committed in the inbox (processed, a duplicate, a
   retry scheduled, dead-lettered), the consumer confirms the delivery to the
   publisher (``confirm_delivery``): a ``<publisher>.confirm_deliveries``
   message, which removes the handler from the outbox row's ``unconfirmed``
   set. The publisher re-drives whatever stays unconfirmed (see
   ``contexts.kernel.relay``), so a message lost anywhere is sent again.

If the consumer's database is unreachable (``OperationalError`` or
``InterfaceError``: a failover, "too many clients", a network blip), ``deliver``
lets the error out and the task (``contexts.kernel.tasks``) retries it with a
Celery retry, which publishes the message again before the original is
acknowledged: nothing is confirmed, so the publisher's re-drive covers even a
retry that could not be published.

A handler id this deployment does not know (an old worker during a rolling
deploy) is recorded in the inbox and retried later with a backoff, without
using up attempts: a newer worker runs it.

The event's correlation id is the current one while the handler runs, so the
events it publishes and the lines it logs carry it.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone

from contexts.kernel.bus import UnknownHandler, subscription
from contexts.kernel.correlation import reset_correlation_id, set_correlation_id
from contexts.kernel.databases import database_for
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


def deliver(*, context: str, handler: str, event: dict[str, Any]) -> str:
    """Deliver ``event`` (a relay envelope) to ``handler`` of ``context``; return the outcome."""
    token = set_correlation_id(event.get("correlation_id") or None)
    log = {"handler": handler, "event_id": event.get("event_id"), "event_name": event.get("name")}
    try:
        try:
            subscription(handler)
        except UnknownHandler:
            _defer_unknown_handler(context, handler, event)
            logger.warning("event delivery deferred: handler not in this deployment", extra=log)
            outcome = DEFERRED
        else:
            outcome = _deliver(context, handler, event, log)
        confirm_delivery(event, handler)
        return outcome
    finally:
        reset_correlation_id(token)


def database_retry_countdown(retries: int) -> float:
    """Seconds before a delivery whose database was unreachable runs again (capped at 30 s,
    far below Redis' visibility timeout, so the held message is never redelivered early)."""
    return min(float(settings.EVENT_RETRY_BASE_SECONDS) * 2**retries, 30.0)


def _deliver(context: str, handler: str, event: dict[str, Any], log: dict[str, Any]) -> str:
    attempts, status = _count_delivery(context, handler, event)
    log["attempts"] = attempts
    if status != InboxMessage.Status.PENDING:
        logger.info("event delivery skipped: already %s", status, extra=log)
        return DUPLICATE if status == InboxMessage.Status.PROCESSED else DEAD
    if attempts > max_attempts():
        _dead_letter(
            context, handler, event, attempts - 1,
            error=f"delivered {attempts - 1} times without finishing "
            "(the worker died or the task was killed)",
        )  # fmt: skip
        logger.error("event delivery dead-lettered after worker losses", extra=log)
        return DEAD
    try:
        outcome = _run_handler(context, handler, event)
    except DATABASE_ERRORS:
        # The database went away mid-delivery: nothing of it committed but the
        # count. Retried as a whole by the task; each run counts, so a database
        # error that never goes away still ends as a dead letter.
        raise
    except Exception as exc:
        error = "".join(traceback.format_exception(exc)).strip()
        if attempts >= max_attempts():
            _dead_letter(context, handler, event, attempts, error=error)
            logger.error("event delivery dead-lettered", extra=log, exc_info=True)
            return DEAD
        _schedule_retry(context, handler, event, attempts, error=error)
        logger.warning("event delivery failed; will retry", extra=log, exc_info=True)
        return RETRY
    logger.info("event delivered" if outcome == PROCESSED else "duplicate event", extra=log)
    return outcome


def confirm_delivery(envelope: dict[str, Any], handler: str) -> None:
    """Tell the publisher that ``handler``'s inbox holds this event's outcome.

    One ``<publisher>.confirm_deliveries`` message (it takes a list, so a batch
    of deliveries can be confirmed by one message). A handler of the
    publishing context itself confirms in its own database, without a message.
    Never raises: an unconfirmed delivery is only re-driven, and the duplicate
    is confirmed then.
    """
    publisher = envelope.get("context")
    if not publisher:
        return
    confirmation = [str(envelope["event_id"]), handler]
    try:
        if publisher == _consumer_of(handler):
            confirm_deliveries(context=publisher, confirmations=[confirmation])
            return
        current_app.send_task(
            confirmation_task_name(publisher),
            kwargs={"confirmations": [confirmation]},
            queue=publisher,
            add_to_parent=False,
            retry_policy=_CONFIRM_RETRY_POLICY,
        )
    except Exception:
        logger.warning(
            "delivery confirmation failed; the publisher will re-drive it",
            extra={"handler": handler, "event_id": envelope.get("event_id")},
            exc_info=True,
        )


def _consumer_of(handler: str) -> str | None:
    try:
        return subscription(handler).context
    except UnknownHandler:
        return None


def _count_delivery(context: str, handler: str, envelope: dict[str, Any]) -> tuple[int, str]:
    """Insert or bump the inbox row, committed on its own: (attempts, status)."""
    connection = connections[database_for(context)]
    ops = connection.ops
    table = ops.quote_name(InboxMessage._meta.db_table)
    uuid_field = InboxMessage._meta.get_field("event_id")
    envelope_field = InboxMessage._meta.get_field("envelope")
    now = timezone.now()
    sql = (
        f"INSERT INTO {table} (id, event_id, handler, context, event_name, event_version,"
        " envelope, status, attempts, last_error, received_at, last_attempt_at,"
        " next_attempt_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1, '', %s, %s, %s)"
        " ON CONFLICT (event_id, handler) DO UPDATE"
        f" SET attempts = {table}.attempts + 1,"
        " last_attempt_at = excluded.last_attempt_at,"
        f" next_attempt_at = CASE WHEN {table}.status = 'pending'"
        f" THEN excluded.next_attempt_at ELSE {table}.next_attempt_at END"
        " RETURNING attempts, status"
    )
    params = [
        uuid_field.get_db_prep_value(uuid.uuid4(), connection),
        uuid_field.get_db_prep_value(UUID(str(envelope["event_id"])), connection),
        handler,
        context,
        envelope["name"],
        int(envelope["version"]),
        envelope_field.get_db_prep_save(envelope, connection),
        InboxMessage.Status.PENDING.value,
        ops.adapt_datetimefield_value(now),
        ops.adapt_datetimefield_value(now),
        ops.adapt_datetimefield_value(now + stall_timeout()),
    ]
    # One statement: outside a transaction it commits on its own (no BEGIN and
    # COMMIT round trips); inside the caller's it stays a savepoint, as before.
    scope = atomic(context) if in_transaction(context) else nullcontext()
    with scope, connection.cursor() as cursor:
        cursor.execute(sql, params)
        attempts, status = cursor.fetchone()
    return int(attempts), str(status)


def _run_handler(context: str, handler: str, envelope: dict[str, Any]) -> str:
    sub = subscription(handler)
    if sub.context != context:
        raise LookupError(f"{handler} is subscribed for {sub.context!r}, not {context!r}")
    event = event_from_envelope(envelope)
    alias = database_for(context)
    with atomic(context):
        claimed = (
            InboxMessage.objects.using(alias)
            .filter(
                event_id=event.event_id,
                handler=handler,
                status=InboxMessage.Status.PENDING,
            )
            .update(
                status=InboxMessage.Status.PROCESSED,
                processed_at=timezone.now(),
                next_attempt_at=None,
            )
        )
        if not claimed:
            return DUPLICATE
        sub.handler(event)
    return PROCESSED


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
