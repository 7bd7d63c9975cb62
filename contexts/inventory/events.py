"""Domain events published by the inventory context (frozen, versioned)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from contexts.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class ReservedLine:
    product_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class StockReserved(DomainEvent):
    """Stock for every line of an order is held until it is committed or released."""

    name: ClassVar[str] = "inventory.StockReserved"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "inventory"

    order_id: UUID
    lines: tuple[ReservedLine, ...]


@dataclass(frozen=True, kw_only=True)
class StockReleased(DomainEvent):
    """An order's reservation was given back (cancelled, failed or expired)."""

    name: ClassVar[str] = "inventory.StockReleased"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "inventory"

    order_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class StockDepleted(DomainEvent):
    """A product's available stock reached zero."""

    name: ClassVar[str] = "inventory.StockDepleted"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "inventory"

    product_id: UUID
