"""The inventory context's private errors: raised by its services, mapped to HTTP by the kernel.

The errors other contexts may catch (``InventoryError``, ``OutOfStock``,
``ReservationNotHeld``) live in ``contexts.inventory.contracts``; the cases
here derive from the same base.
"""

from __future__ import annotations

from contexts.inventory.contracts import InventoryError


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
