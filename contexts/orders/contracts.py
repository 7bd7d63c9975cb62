"""What crosses the orders boundary: the order DTOs and the enums of its status.

Plain Python only (no Django, nothing else of this context), so that a caller
over HTTP could share this module unchanged. ``public.py`` offers the
functions; this module the types they speak. ``OrderStatus`` and
``CancelReason`` carry the same values as the order table's choices (a test
in ``contexts/orders/tests`` holds them equal). The orders context raises no
error another context catches: its errors (``contexts.orders.errors``) reach
only its own API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

__all__ = ["CancelReason", "OrderInfo", "OrderItemInfo", "OrderStatus"]


class OrderStatus(StrEnum):
    """Where an order stands."""

    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class CancelReason(StrEnum):
    """Why a CANCELLED order was cancelled."""

    OUT_OF_STOCK = "OUT_OF_STOCK"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PRODUCT_UNAVAILABLE = "PRODUCT_UNAVAILABLE"
    CUSTOMER_CANCELLED = "CUSTOMER_CANCELLED"


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
    """An order as other contexts see it; ``cancel_reason`` is None unless CANCELLED."""

    id: UUID
    user_id: UUID
    status: OrderStatus
    cancel_reason: CancelReason | None
    items: tuple[OrderItemInfo, ...]
    total: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime
