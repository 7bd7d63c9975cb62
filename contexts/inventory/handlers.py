"""The inventory's subscriptions to other contexts' events (each idempotent)."""

from __future__ import annotations

from contexts.catalog.events import ProductCreated
from contexts.inventory import services
from contexts.kernel.bus import subscribe


@subscribe(ProductCreated, context="inventory", id="inventory.create_stock_level")
def create_stock_level_for_new_product(event: ProductCreated) -> None:
    """A new product starts with a zero stock row (redelivery finds it and does nothing)."""
    services.stock_level_initialize(product_id=event.product_id)
