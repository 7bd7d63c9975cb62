"""The inventory context's errors: one base type, mapped to HTTP by the kernel's handler.

``InventoryError``, ``OutOfStock`` and ``ReservationNotHeld`` are part of the
public interface (re-exported by ``contexts.inventory.public``).
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from contexts.kernel.errors import DomainError


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


class ProductNotFound(InventoryError):
    http_status = 404

    def __init__(self, detail: str = "Product not found.") -> None:
        super().__init__(detail)


class NotProductOwner(InventoryError):
    http_status = 403

    def __init__(
        self, detail: str = "Only the product's owner or staff may adjust its stock."
    ) -> None:
        super().__init__(detail)


class AdjustmentConflict(InventoryError):
    """The adjustment would leave less on hand than is reserved (or less than zero)."""

    http_status = 409


class InvalidAdjustment(InventoryError):
    """The adjustment would overflow what a stock level can hold."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="delta")
