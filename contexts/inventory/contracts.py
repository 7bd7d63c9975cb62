"""What crosses the inventory boundary: the stock DTOs and the errors callers catch.

Plain Python only (no Django, nothing else of this context), so that a caller
over HTTP could share this module unchanged. ``public.py`` offers the
functions; this module the types they speak.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from contexts.kernel.consumes import Consumes
from contexts.kernel.errors import DomainError

__all__ = [
    "CONSUMES",
    "InventoryError",
    "OrderStock",
    "OutOfStock",
    "ReservationNotHeld",
    "StockLevelInfo",
    "StockLine",
    "StockOutcome",
    "StockOutcomeKind",
]

#: The events inventory consumes, by handler id (``handlers.py`` registers each; every
#: deployment reads this, so a catalog running elsewhere still sends it ProductCreated).
CONSUMES = (Consumes("catalog.ProductCreated", 1, handler="inventory.create_stock_level"),)


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


class StockOutcomeKind(StrEnum):
    """What became of one order in a batch call (``reserve_stock_for_orders``, ...)."""

    #: Done (now, or by an earlier call: the steps are idempotent).
    DONE = "DONE"
    #: ``OutOfStock``: not enough available stock; nothing was held.
    OUT_OF_STOCK = "OUT_OF_STOCK"
    #: ``ReservationNotHeld``: the order holds no reservation to act on.
    NOT_HELD = "NOT_HELD"


@dataclass(frozen=True)
class StockOutcome:
    """One order's outcome in a batch call: done, or what the single call would raise."""

    order_id: UUID
    kind: StockOutcomeKind
    #: OUT_OF_STOCK: the products short of stock.
    product_ids: tuple[UUID, ...] = ()
    detail: str = ""

    @classmethod
    def of(cls, order_id: UUID, error: InventoryError | None) -> StockOutcome:
        """The outcome of an order whose call succeeded (None) or raised ``error``."""
        if error is None:
            return cls(order_id=order_id, kind=StockOutcomeKind.DONE)
        if isinstance(error, OutOfStock):
            return cls(
                order_id=order_id,
                kind=StockOutcomeKind.OUT_OF_STOCK,
                product_ids=error.product_ids,
                detail=error.detail,
            )
        return cls(order_id=order_id, kind=StockOutcomeKind.NOT_HELD, detail=error.detail)

    def error(self) -> InventoryError | None:
        """The error the single call would have raised (None when done)."""
        if self.kind == StockOutcomeKind.OUT_OF_STOCK:
            return OutOfStock(self.product_ids)
        if self.kind == StockOutcomeKind.NOT_HELD:
            return ReservationNotHeld(self.order_id, self.detail)
        return None
