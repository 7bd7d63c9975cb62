"""The customer order list's read model (``OrderSummary``): projection and rebuild.

The row of an order is written in the order's own transactions (placement and
every status change, see ``history.append``), so a list read right after a
POST already shows the order. The event handlers (``handlers.py``) project the
same row from the order's history up to the event they receive; they ignore
an event whose sequence the row already reflects, so duplicates and
out-of-order deliveries end in the same state. See
docs/read-models.md.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from uuid import UUID

from django.db import IntegrityError

from contexts.kernel.transactions import atomic
from contexts.orders import history
from contexts.orders.models import Order, OrderEvent, OrderSummary

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def order_summary_apply_event(*, order_id: UUID, event_id: UUID) -> bool:
    """Bring the order's summary up to the history entry published as ``event_id``.

    Returns False when the row already reflects that entry or a later one
    (stale or repeated event): nothing changes then.
    """
    with atomic("orders"):
        sequence = (
            OrderEvent.objects.filter(event_id=event_id).values_list("sequence", flat=True).first()
        )
        if sequence is None:
            # The outbox row commits with its history entry, so this is an event
            # from before history recorded event ids: project the whole history.
            sequence = (
                Order.objects.filter(pk=order_id).values_list("last_sequence", flat=True).first()
            )
            if sequence is None:
                logger.warning("event %s names unknown order %s", event_id, order_id)
                return False
        current = (
            OrderSummary.objects.filter(order_id=order_id)
            .values_list("last_sequence", flat=True)
            .first()
        )
        if current is not None and current >= sequence:
            return False
        state = history.replay(
            OrderEvent.objects.filter(order_id=order_id, sequence__lte=sequence).order_by(
                "sequence"
            )
        )
        fields = history.summary_fields(state)
        if current is None:
            try:
                with atomic("orders"):
                    OrderSummary.objects.create(order_id=order_id, **fields)
                return True
            except IntegrityError:
                pass  # created concurrently: fall through to the conditional update
        return bool(
            OrderSummary.objects.filter(
                order_id=order_id, last_sequence__lt=fields["last_sequence"]
            ).update(**fields)
        )


def _histories(order_ids: list[UUID]) -> dict[UUID, list[OrderEvent]]:
    events: dict[UUID, list[OrderEvent]] = defaultdict(list)
    for event in OrderEvent.objects.filter(order_id__in=order_ids).order_by("order_id", "sequence"):
        events[event.order_id].append(event)
    return events


def _order_id_batches() -> Iterator[list[UUID]]:
    last: UUID | None = None
    while True:
        orders = Order.objects.order_by("id")
        if last is not None:
            orders = orders.filter(id__gt=last)
        batch = list(orders.values_list("id", flat=True)[:BATCH_SIZE])
        if not batch:
            return
        yield batch
        last = batch[-1]


def rebuild_order_summaries() -> int:
    """Rebuild every summary row from history (batch by batch); returns how many."""
    count = 0
    for batch in _order_id_batches():
        histories = _histories(batch)
        rows = [
            OrderSummary(order_id=order_id, **history.summary_fields(history.replay(events)))
            for order_id, events in histories.items()
        ]
        with atomic("orders"):
            OrderSummary.objects.filter(order_id__in=batch).delete()
            OrderSummary.objects.bulk_create(rows)
        count += len(rows)
    with atomic("orders"):
        OrderSummary.objects.exclude(order_id__in=Order.objects.values("id")).delete()
    return count


def order_id_batches() -> Iterator[list[UUID]]:
    """Every order id, in batches (for commands that walk all orders)."""
    return _order_id_batches()


def histories_of(order_ids: list[UUID]) -> dict[UUID, list[OrderEvent]]:
    """The histories of ``order_ids`` in one query, each oldest first."""
    return _histories(order_ids)
