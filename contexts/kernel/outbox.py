"""Publishing: an event is an outbox row written in the publisher's transaction."""

from __future__ import annotations

from contexts.kernel.databases import database_for
from contexts.kernel.events import DomainEvent
from contexts.kernel.models import OutboxMessage
from contexts.kernel.transactions import in_transaction


class PublishOutsideTransaction(RuntimeError):
    """publish() was called with no transaction open on the publisher's alias."""


def publish(event: DomainEvent) -> None:
    """Record ``event`` in its context's outbox, inside the caller's transaction.

    The row commits (or rolls back) with the state change that caused it; the
    relay delivers it afterwards. Outside a transaction there is nothing to be
    atomic with, so that is refused.
    """
    if not in_transaction(event.context):
        raise PublishOutsideTransaction(
            f"publish({event.name}) must run inside atomic({event.context!r})"
        )
    OutboxMessage.objects.using(database_for(event.context)).create(
        event_id=event.event_id,
        context=event.context,
        event_name=event.name,
        event_version=event.version,
        payload=event.payload(),
        correlation_id=event.correlation_id,
        occurred_at=event.occurred_at,
    )
