"""Read queries of the inventory."""

from __future__ import annotations

from uuid import UUID

from contexts.catalog import public as catalog_public
from contexts.inventory.errors import ProductNotFound
from contexts.inventory.models import StockLevel


def get_stock_level(*, product_id: UUID) -> StockLevel:
    """The product's stock level; a product without a row has zero stock (unsaved row)."""
    level = StockLevel.objects.filter(product_id=product_id).first()
    return level if level is not None else StockLevel(product_id=product_id, on_hand=0, reserved=0)


def stock_level_of_product(*, product_id: UUID) -> StockLevel:
    """Like ``get_stock_level``, but ``ProductNotFound`` unless the catalog knows the product."""
    if not catalog_public.product_exists(product_id):
        raise ProductNotFound()
    return get_stock_level(product_id=product_id)
