"""Publishing: an event is an outbox row written in the publisher's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from contexts.kernel.bulk import insert_rows
from contexts.kernel.databases import database_for
from contexts.kernel.events import DomainEvent
from contexts.kernel.models import OutboxMessage
from contexts.kernel.relay import RELAY_CHANNEL, subscribers_of
from contexts.kernel.transactions import in_transaction, on_commit
from contexts.kernel.wakeup import notify


class PublishOutsideTransaction(RuntimeError):
    """publish() was called with no transaction open on the publisher's alias."""


def publish(event: DomainEvent) -> None:
    """Record ``event`` in its context's outbox, inside the caller's transaction.

    The row commits (or rolls back) with the state change that caused it. The
    transaction also notifies the relay loops (``NOTIFY``, once per
    transaction, delivered by PostgreSQL on commit and dropped on rollback):
    a worker's relay sends the row right after the commit, or the beat sweep
    does later. Publishing never talks to the broker, so the caller (a web
    request) sends no message and never waits on it. Outside a transaction
    there is nothing to be atomic with, so that is refused.

    An event nobody consumes is stored already published: there is no
    message to send, so it costs no relay transaction (the relay would only
    have marked it published). The row lists its consumers as unconfirmed
    (those the contracts declare, wherever they run: ``relay.subscribers_of``):
    each consumer confirms its delivery, and the sweep re-drives the rest.
    """
    publish_all([event])


def publish_all(events: Iterable[DomainEvent]) -> None:
    """``publish`` every event, in one ``INSERT`` per database (a batch's events at once)."""
    rows, woken = _outbox_rows(events)
    for alias, messages in rows.items():
        OutboxMessage.objects.using(alias).bulk_create(messages)
    for context in sorted(woken):
        _wake_relay(context)


def insert_and_publish(
    rows: Sequence[Sequence[Model]], events: Sequence[DomainEvent], *, context: str
) -> None:
    """Insert ``rows`` (groups of ``context``'s model instances, parents first) and publish
    ``events`` of ``context``, all in one statement (``kernel.bulk.insert_rows``): a state
    change and its events in one round trip."""
    outbox, woken = _outbox_rows(events)
    alias = database_for(context)
    if set(outbox) - {alias}:
        raise ValueError(f"insert_and_publish takes events of {context!r} only")
    insert_rows([*rows, outbox.get(alias, [])], using=alias)
    for woken_context in sorted(woken):
        _wake_relay(woken_context)


def _outbox_rows(
    events: Iterable[DomainEvent],
) -> tuple[dict[str, list[OutboxMessage]], set[str]]:
    """The events' outbox rows by database alias, and the contexts whose relay to wake."""
    rows: dict[str, list[OutboxMessage]] = {}
    woken: set[str] = set()
    for event in events:
        if not in_transaction(event.context):
            raise PublishOutsideTransaction(
                f"publish({event.name}) must run inside atomic({event.context!r})"
            )
        subscribers = subscribers_of(event.name, event.version)
        rows.setdefault(database_for(event.context), []).append(
            OutboxMessage(
                event_id=event.event_id,
                context=event.context,
                event_name=event.name,
                event_version=event.version,
                payload=event.payload(),
                correlation_id=event.correlation_id,
                occurred_at=event.occurred_at,
                published_at=None if subscribers else timezone.now(),
                unconfirmed=subscribers,
            )
        )
        if subscribers:
            woken.add(event.context)
    return rows, woken


class _RelayWoken:
    """Marks a transaction that has notified the relay already (a no-op on commit)."""

    def __init__(self, context: str) -> None:
        self.context = context

    def __call__(self) -> None:
        pass


def _wake_relay(context: str) -> None:
    # One NOTIFY per transaction, however many events it publishes. Django drops
    # the marker of a rolled-back savepoint, as PostgreSQL drops its NOTIFY, so a
    # later publish in the same transaction notifies again.
    pending = getattr(transaction.get_connection(database_for(context)), "run_on_commit", ())
    for _savepoints, callback, *_rest in pending:
        if isinstance(callback, _RelayWoken) and callback.context == context:
            return
    notify(RELAY_CHANNEL, context=context)
    on_commit(context, _RelayWoken(context))
