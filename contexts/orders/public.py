"""The orders context's public interface: the only functions other contexts may call.

Functions take and return plain data: primitives and the types of
``contexts.orders.contracts``.
"""

from __future__ import annotations

from uuid import UUID

from contexts.orders import selectors
from contexts.orders.contracts import CancelReason, OrderInfo, OrderItemInfo, OrderStatus
from contexts.orders.models import Order, OrderItem

__all__ = ["get_order"]


def get_order(order_id: UUID) -> OrderInfo | None:
    """The order with its items, or None if there is no such order."""
    order = selectors.get_order(order_id=order_id)
    return _order_info(order) if order is not None else None


def _order_info(order: Order) -> OrderInfo:
    return OrderInfo(
        id=order.id,
        user_id=order.user_id,
        status=OrderStatus(order.status),
        cancel_reason=CancelReason(order.cancel_reason) if order.cancel_reason else None,
        items=tuple(_item_info(item) for item in order.items.all()),
        total=order.total,
        currency=order.currency,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def _item_info(item: OrderItem) -> OrderItemInfo:
    return OrderItemInfo(
        product_id=item.product_id,
        sku=item.sku,
        name=item.name,
        quantity=item.quantity,
        unit_price=item.unit_price,
        line_total=item.line_total,
    )
