"""The customer order list's read model (``OrderSummary``): rebuild.

The row of an order is written in the order's own transactions (placement and
every status change, see ``history.append``), so a list read right after a
POST already shows the order, and no event goes through the broker to keep
it. A rebuild (a new read model, a table truncated) projects the rows from
the orders' histories; it locks the orders of each batch before it reads
their histories, so it never writes a row older than its order. See
docs/read-models.md.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from uuid import UUID

from django.db.models import QuerySet

from contexts.kernel.transactions import atomic
from contexts.orders import history
from contexts.orders.models import Order, OrderHistoryEntry, OrderSummary

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def _histories(order_ids: list[UUID]) -> dict[UUID, list[OrderHistoryEntry]]:
    events: dict[UUID, list[OrderHistoryEntry]] = defaultdict(list)
    for event in OrderHistoryEntry.objects.filter(order_id__in=order_ids).order_by(
        "order_id", "sequence"
    ):
        events[event.order_id].append(event)
    return events


def _order_id_batches(batch_size: int = BATCH_SIZE) -> Iterator[list[UUID]]:
    last: UUID | None = None
    while True:
        orders = Order.objects.order_by("id")
        if last is not None:
            orders = orders.filter(id__gt=last)
        batch = list(orders.values_list("id", flat=True)[:batch_size])
        if not batch:
            return
        yield batch
        last = batch[-1]


def lock_orders(order_ids: list[UUID]) -> QuerySet[Order]:
    """The orders of ``order_ids`` locked against status changes until the transaction ends.

    Every change of an order updates its row first (``history.append``), so
    while a rebuild holds these locks no saga or cancel can append to the
    histories it reads, and it never writes an older state over a newer one.
    ``FOR NO KEY UPDATE`` (in id order, like every other taker) leaves inserts
    that merely reference the orders free. Call inside ``atomic("orders")``.
    """
    return Order.objects.select_for_update(no_key=True).filter(id__in=order_ids).order_by("id")


@dataclass(frozen=True)
class SummariesRebuilt:
    """What ``rebuild_order_summaries`` did (or, in a dry run, would do)."""

    orders: int
    changed: int


def rebuild_order_summaries(
    *,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SummariesRebuilt:
    """Rebuild every summary row from history, one locked batch per transaction.

    Each batch locks its orders before reading their histories (``lock_orders``),
    so a saga that commits meanwhile waits for the batch and then moves the row
    on: the row is never left behind its order. With ``dry_run`` nothing is
    written and ``changed`` counts the rows that differ. ``progress`` is called
    with the number of orders done after each batch.
    """
    done = changed = 0
    for batch in _order_id_batches(batch_size):
        with atomic("orders"):
            locked = list(lock_orders(batch).values_list("id", flat=True))
            histories = _histories(locked)
            rows = {
                order_id: history.summary_fields(history.replay(events))
                for order_id, events in histories.items()
            }
            current = {
                row["order_id"]: row
                for row in OrderSummary.objects.filter(order_id__in=batch).values(
                    "order_id", *_SUMMARY_FIELDS
                )
            }
            changed += sum(
                1
                for order_id in set(rows) | set(current)
                if order_id not in rows
                or order_id not in current
                or any(current[order_id][f] != rows[order_id][f] for f in _SUMMARY_FIELDS)
            )
            if not dry_run:
                OrderSummary.objects.filter(order_id__in=batch).delete()
                OrderSummary.objects.bulk_create(
                    [OrderSummary(order_id=order_id, **fields) for order_id, fields in rows.items()]
                )
        done += len(batch)
        if progress is not None:
            progress(done)
    orphans = OrderSummary.objects.exclude(order_id__in=Order.objects.values("id"))
    if dry_run:
        changed += orphans.count()
    else:
        with atomic("orders"):
            changed += orphans.delete()[0]
    return SummariesRebuilt(orders=done, changed=changed)


#: The columns of a summary row that a rebuild writes.
_SUMMARY_FIELDS = (
    "user_id",
    "status",
    "cancel_reason",
    "total",
    "currency",
    "item_count",
    "items",
    "created_at",
    "updated_at",
    "last_sequence",
)


def order_id_batches(batch_size: int = BATCH_SIZE) -> Iterator[list[UUID]]:
    """Every order id, in batches (for commands that walk all orders)."""
    return _order_id_batches(batch_size)


def histories_of(order_ids: list[UUID]) -> dict[UUID, list[OrderHistoryEntry]]:
    """The histories of ``order_ids`` in one query, each oldest first."""
    return _histories(order_ids)
