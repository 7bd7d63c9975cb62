"""The orders context's public interface: the only functions other contexts may call.

Functions take and return plain data (primitives and frozen dataclasses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

__all__ = ["OrderInfo", "OrderItemInfo", "get_order"]


@dataclass(frozen=True)
class OrderItemInfo:
    """One line of an order, priced when the order was placed."""

    product_id: UUID
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


@dataclass(frozen=True)
class OrderInfo:
    """An order as other contexts see it.

    ``status``: PENDING, CONFIRMED or CANCELLED; ``cancel_reason`` is None
    unless CANCELLED (OUT_OF_STOCK, PAYMENT_DECLINED, PAYMENT_FAILED,
    PRODUCT_UNAVAILABLE, CUSTOMER_CANCELLED).
    """

    id: UUID
    user_id: UUID
    status: str
    cancel_reason: str | None
    items: tuple[OrderItemInfo, ...]
    total: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime


def get_order(order_id: UUID) -> OrderInfo | None:
    """The order with its items, or None if there is no such order."""
    from contexts.orders.selectors import order_with_items

    order = order_with_items(order_id=order_id)
    if order is None:
        return None
    return OrderInfo(
        id=order.id,
        user_id=order.user_id,
        status=order.status,
        cancel_reason=order.cancel_reason,
        items=tuple(
            OrderItemInfo(
                product_id=item.product_id,
                sku=item.sku,
                name=item.name,
                quantity=item.quantity,
                unit_price=item.unit_price,
                line_total=item.line_total,
            )
            for item in order.items.all()
        ),
        total=order.total,
        currency=order.currency,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )
