"""Domain events published by the orders context (frozen, versioned)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from contexts.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class OrderLine:
    product_id: UUID
    sku: str
    product_name: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(DomainEvent):
    """An order was accepted as PENDING; the saga takes it from here."""

    name: ClassVar[str] = "orders.OrderPlaced"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "orders"

    order_id: UUID
    user_id: UUID
    lines: tuple[OrderLine, ...]
    total: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(DomainEvent):
    """Stock is committed and payment captured: the order will be fulfilled."""

    name: ClassVar[str] = "orders.OrderConfirmed"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "orders"

    order_id: UUID
    user_id: UUID
    total: Decimal
    currency: str


#: What became of an order's payment when it was cancelled (``OrderCancelled.payment``).
PAYMENT_REFUNDED = "REFUNDED"
PAYMENT_NOT_TAKEN = "NOT_TAKEN"
#: A refund is still to come (a customer cancel, or a refund that has not gone through).
PAYMENT_REFUND_PENDING = "REFUND_PENDING"


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(DomainEvent):
    """The order ended CANCELLED; ``reason`` is one of the cancel reasons of docs/api.md.

    ``payment`` says what became of the payment when the order was cancelled:
    ``REFUNDED``, ``NOT_TAKEN``, ``REFUND_PENDING``, or empty (not known, e.g.
    an event stored before the field existed: it is optional, so payloads
    without it still read, and readers that do not know it ignore it).
    """

    name: ClassVar[str] = "orders.OrderCancelled"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "orders"

    order_id: UUID
    user_id: UUID
    reason: str
    payment: str = ""
