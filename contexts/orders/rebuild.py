"""Replay every order's history into its state, to verify or repair the order rows.

The order row is a projection of its history kept in the same transaction;
``manage.py rebuild_orders --verify`` proves it, ``rebuild_orders`` repairs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from contexts.kernel.transactions import atomic
from contexts.orders import history
from contexts.orders.history import HistoryError, OrderState
from contexts.orders.models import Order
from contexts.orders.read_models import histories_of, order_id_batches


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
        "items": [
            {
                "product_id": str(item.product_id),
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "unit_price": str(item.unit_price),
                "line_total": str(item.line_total),
            }
            for item in order.items.all()
        ],
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


def verify_orders() -> Iterator[Difference]:
    """Every order whose row differs from the replay of its history."""
    for batch in order_id_batches():
        orders = Order.objects.filter(id__in=batch).prefetch_related("items").order_by("id")
        events = histories_of(batch)
        for order in orders:
            difference, _ = _compare(order, events.get(order.id, []))
            if difference is not None:
                yield difference


def rebuild_orders() -> list[Difference]:
    """Rewrite the status columns of every differing order from its history.

    Items and money are written once at placement and never replayed over; an
    order whose items or total differ from ORDER_PLACED is reported, not
    repaired, as is one whose history cannot be replayed.
    """
    unrepaired: list[Difference] = []
    for batch in order_id_batches():
        orders = Order.objects.filter(id__in=batch).prefetch_related("items").order_by("id")
        events = histories_of(batch)
        for order in orders:
            difference, state = _compare(order, events.get(order.id, []))
            if difference is None:
                continue
            if state is None or {"items", "total", "currency", "user_id"} & set(difference.fields):
                unrepaired.append(difference)
                continue
            with atomic("orders"):
                Order.objects.filter(pk=order.id).update(
                    status=state.status,
                    cancel_reason=state.cancel_reason,
                    created_at=state.created_at,
                    updated_at=state.updated_at,
                    last_sequence=state.last_sequence,
                )
    return unrepaired
