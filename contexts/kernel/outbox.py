"""Publishing: an event is an outbox row written in the publisher's transaction."""

from __future__ import annotations

from uuid import UUID

from django.db import transaction
from django.utils import timezone

from contexts.kernel.databases import database_for
from contexts.kernel.events import DomainEvent
from contexts.kernel.models import OutboxMessage
from contexts.kernel.relay import relay_after_commit, subscribers_of
from contexts.kernel.transactions import in_transaction, on_commit


class PublishOutsideTransaction(RuntimeError):
    """publish() was called with no transaction open on the publisher's alias."""


def publish(event: DomainEvent) -> None:
    """Record ``event`` in its context's outbox, inside the caller's transaction.

    The row commits (or rolls back) with the state change that caused it; the
    relay sends it right after the commit, or the beat sweep does later if the
    broker is unreachable then (the commit never fails because of the broker).
    Outside a transaction there is nothing to be atomic with, so that is refused.

    An event no handler subscribes to is stored already published: there is no
    message to send, so it costs no relay transaction (the relay would only
    have marked it published). The row lists its subscribers as unconfirmed:
    each consumer confirms its delivery, and the sweep re-drives the rest.
    """
    if not in_transaction(event.context):
        raise PublishOutsideTransaction(
            f"publish({event.name}) must run inside atomic({event.context!r})"
        )
    subscribers = subscribers_of(event.name, event.version)
    consumed = bool(subscribers)
    OutboxMessage.objects.using(database_for(event.context)).create(
        event_id=event.event_id,
        context=event.context,
        event_name=event.name,
        event_version=event.version,
        payload=event.payload(),
        correlation_id=event.correlation_id,
        occurred_at=event.occurred_at,
        published_at=None if consumed else timezone.now(),
        unconfirmed=subscribers,
    )
    if consumed:
        _relay_on_commit(event.context, event.event_id)


class _RelayOnCommit:
    """One on-commit relay per transaction, however many events it publishes."""

    def __init__(self, context: str, event_id: UUID) -> None:
        self.context = context
        self.event_ids = [event_id]

    def __call__(self) -> None:
        relay_after_commit(self.context, self.event_ids)


def _relay_on_commit(context: str, event_id: UUID) -> None:
    # Join the callback this transaction already registered, if any. Django
    # drops a rolled-back transaction's callbacks, so a stale one is never
    # reused; an id whose savepoint rolled back is simply not found by the relay.
    pending = getattr(transaction.get_connection(database_for(context)), "run_on_commit", ())
    for _savepoints, callback, *_rest in pending:
        if isinstance(callback, _RelayOnCommit) and callback.context == context:
            callback.event_ids.append(event_id)
            return
    on_commit(context, _RelayOnCommit(context, event_id))
