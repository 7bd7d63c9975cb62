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


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(DomainEvent):
    """The order ended CANCELLED; ``reason`` is one of the cancel reasons of docs/api.md."""

    name: ClassVar[str] = "orders.OrderCancelled"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "orders"

    order_id: UUID
    user_id: UUID
    reason: str
