"""Replay every order's history into its state, to verify or repair the order rows.

The order row is a projection of its history kept in the same transaction;
``manage.py rebuild_orders --verify`` proves it, ``rebuild_orders`` repairs it,
batch by batch, each batch's orders locked while it is compared and written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from contexts.kernel.transactions import atomic
from contexts.orders import history
from contexts.orders.history import HistoryError, OrderState
from contexts.orders.models import Order
from contexts.orders.read_models import BATCH_SIZE, histories_of, lock_orders, order_id_batches


@dataclass(frozen=True)
class Difference:
    """An order whose row differs from what its history says."""

    order_id: UUID
    fields: dict[str, tuple[Any, Any]]  # name -> (row, history)
    error: str = ""


def _row_values(order: Order) -> dict[str, Any]:
    return {
        "user_id": order.user_id,
        "status": order.status,
        "cancel_reason": order.cancel_reason,
        "total": order.total,
        "currency": order.currency,
        "items": [item.snapshot() for item in order.items.all()],
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "last_sequence": order.last_sequence,
    }


def _state_values(state: OrderState) -> dict[str, Any]:
    return {
        "user_id": state.user_id,
        "status": state.status,
        "cancel_reason": state.cancel_reason,
        "total": Decimal(state.total),
        "currency": state.currency,
        "items": state.items,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "last_sequence": state.last_sequence,
    }


def _compare(order: Order, events) -> tuple[Difference | None, OrderState | None]:
    try:
        state = history.replay(events)
    except HistoryError as exc:
        return Difference(order_id=order.id, fields={}, error=str(exc)), None
    row, replayed = _row_values(order), _state_values(state)
    fields = {name: (row[name], replayed[name]) for name in row if row[name] != replayed[name]}
    return (Difference(order_id=order.id, fields=fields) if fields else None), state


def _compare_batch(batch: list[UUID]) -> list[tuple[Order, Difference, OrderState | None]]:
    """The orders of ``batch`` that differ from their history; call inside ``atomic``.

    The orders are locked before their histories are read (``lock_orders``), so
    the two agree: a transition either committed before the lock or waits for
    the caller's transaction to end.
    """
    orders = list(lock_orders(batch).prefetch_related("items"))
    events = histories_of(batch)
    differing = []
    for order in orders:
        difference, state = _compare(order, events.get(order.id, []))
        if difference is not None:
            differing.append((order, difference, state))
    return differing


def verify_orders(
    *, batch_size: int = BATCH_SIZE, progress: Callable[[int], None] | None = None
) -> Iterator[Difference]:
    """Every order whose row differs from the replay of its history."""
    done = 0
    for batch in order_id_batches(batch_size):
        with atomic("orders"):
            differing = _compare_batch(batch)
        yield from (difference for _, difference, _ in differing)
        done += len(batch)
        if progress is not None:
            progress(done)


@dataclass(frozen=True)
class OrdersRebuilt:
    """What ``rebuild_orders`` did (or, in a dry run, would do)."""

    orders: int
    repaired: list[Difference]
    unrepaired: list[Difference]


def rebuild_orders(
    *,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> OrdersRebuilt:
    """Rewrite the status columns of every differing order from its history.

    One transaction per batch holds the batch's orders locked from before
    their histories are read until the rows are written, so a saga or cancel
    that commits meanwhile waits and then moves the order on from the repaired
    row: an order never goes backwards. Items and money are written once at
    placement and never replayed over; an order whose items or total differ
    from ORDER_PLACED is reported, not repaired, as is one whose history cannot
    be replayed. With ``dry_run`` nothing is written.
    """
    repaired: list[Difference] = []
    unrepaired: list[Difference] = []
    done = 0
    for batch in order_id_batches(batch_size):
        with atomic("orders"):
            for order, difference, state in _compare_batch(batch):
                if state is None or {"items", "total", "currency", "user_id"} & set(
                    difference.fields
                ):
                    unrepaired.append(difference)
                    continue
                repaired.append(difference)
                if dry_run:
                    continue
                Order.objects.filter(pk=order.id).update(
                    status=state.status,
                    cancel_reason=state.cancel_reason,
                    created_at=state.created_at,
                    updated_at=state.updated_at,
                    last_sequence=state.last_sequence,
                )
        done += len(batch)
        if progress is not None:
            progress(done)
    return OrdersRebuilt(orders=done, repaired=repaired, unrepaired=unrepaired)
