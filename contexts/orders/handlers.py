"""The orders context's own event subscriptions: keep the order list's read model.

Each handler projects the order's summary row from its history up to the
event's entry, and ignores an event the row already reflects (duplicates,
out-of-order deliveries). See ``read_models.py``.
"""

from __future__ import annotations

from contexts.kernel.bus import subscribe
from contexts.orders.events import OrderCancelled, OrderConfirmed, OrderPlaced
from contexts.orders.read_models import order_summary_apply_event


@subscribe(OrderPlaced, context="orders", id="orders.project_order_placed")
def project_order_placed(event: OrderPlaced) -> None:
    order_summary_apply_event(order_id=event.order_id, event_id=event.event_id)


@subscribe(OrderConfirmed, context="orders", id="orders.project_order_confirmed")
def project_order_confirmed(event: OrderConfirmed) -> None:
    order_summary_apply_event(order_id=event.order_id, event_id=event.event_id)


@subscribe(OrderCancelled, context="orders", id="orders.project_order_cancelled")
def project_order_cancelled(event: OrderCancelled) -> None:
    order_summary_apply_event(order_id=event.order_id, event_id=event.event_id)
