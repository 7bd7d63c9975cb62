"""The catalog context's public interface: the only functions other contexts may call.

Functions take and return plain data: primitives and the types of
``contexts.catalog.contracts``.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from contexts.catalog import selectors
from contexts.catalog.contracts import ProductInfo
from contexts.catalog.models import Product

__all__ = ["get_product", "get_products", "product_exists"]


def get_product(product_id: UUID) -> ProductInfo | None:
    """The product with its current price, or None if it does not exist (or was deleted)."""
    product = selectors.get_product(product_id=product_id)
    return _info(product) if product is not None else None


def get_products(product_ids: Iterable[UUID]) -> dict[UUID, ProductInfo]:
    """The existing products among ``product_ids`` by id, in one query.

    Unknown or deleted ids are simply absent from the result.
    """
    products = selectors.get_products(product_ids=product_ids)
    return {product_id: _info(product) for product_id, product in products.items()}


def product_exists(product_id: UUID) -> bool:
    """True if the product exists (deleted products do not)."""
    return selectors.product_exists(product_id=product_id)


def _info(product: Product) -> ProductInfo:
    return ProductInfo(
        id=product.id,
        sku=product.sku,
        name=product.name,
        price=product.price,
        currency=product.currency,
        owner_id=product.owner_id,
    )
