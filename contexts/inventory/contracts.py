"""What crosses the inventory boundary: the stock DTOs and the errors callers catch.

Plain Python only (no Django, nothing else of this context), so that a caller
over HTTP could share this module unchanged. ``public.py`` offers the
functions; this module the types they speak.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from contexts.kernel.errors import DomainError

__all__ = [
    "InventoryError",
    "OrderStock",
    "OutOfStock",
    "ReservationNotHeld",
    "StockLevelInfo",
    "StockLine",
]


@dataclass(frozen=True)
class StockLine:
    """One line of an order to reserve: ``quantity`` (> 0) units of a product."""

    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class OrderStock:
    """What one order asks to reserve: its lines (``reserve_stock_for_orders``)."""

    order_id: UUID
    lines: tuple[StockLine, ...]


@dataclass(frozen=True)
class StockLevelInfo:
    """A product's stock: ``available = on_hand - reserved``."""

    product_id: UUID
    on_hand: int
    reserved: int
    available: int


class InventoryError(DomainError):
    """Base of every error the inventory's services raise (400 unless a subclass says)."""


class OutOfStock(InventoryError):
    """Not enough available stock for some lines; ``product_ids`` names them. Nothing was held."""

    http_status = 409

    def __init__(self, product_ids: Iterable[UUID]) -> None:
        self.product_ids: tuple[UUID, ...] = tuple(product_ids)
        super().__init__(
            "Not enough stock for product(s): " + ", ".join(str(p) for p in self.product_ids)
        )

    def __reduce__(self):
        return (type(self), (self.product_ids,))


class ReservationNotHeld(InventoryError):
    """The order holds no reservation to act on (released, expired, or never made)."""

    http_status = 409

    def __init__(self, order_id: UUID, detail: str = "") -> None:
        self.order_id = order_id
        super().__init__(detail or f"Order {order_id} holds no stock reservation.")

    def __reduce__(self):
        return (type(self), (self.order_id, self.detail))
