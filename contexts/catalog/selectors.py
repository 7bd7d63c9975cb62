"""Read queries of the catalog."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.db.models import Q, QuerySet

from contexts.catalog.errors import ProductNotFound
from contexts.catalog.models import Product


def product_list(*, search: str = "", owner_id: UUID | None = None) -> QuerySet[Product]:
    """Products newest first; ``search`` matches name, sku or description (any case)."""
    products = Product.objects.order_by("-created_at", "-id")
    if search:
        products = products.filter(
            Q(name__icontains=search) | Q(sku__icontains=search) | Q(description__icontains=search)
        )
    if owner_id is not None:
        products = products.filter(owner_id=owner_id)
    return products


def product_get(*, product_id: UUID, for_update: bool = False) -> Product:
    """The product, or ``ProductNotFound``; ``for_update`` locks its row (inside a transaction)."""
    products = Product.objects.select_for_update() if for_update else Product.objects.all()
    product = products.filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound()
    return product


def product_find(*, product_id: UUID) -> Product | None:
    """The product, or None."""
    return Product.objects.filter(pk=product_id).first()


def products_by_id(*, product_ids: Iterable[UUID]) -> dict[UUID, Product]:
    """The existing products among ``product_ids``, in one query."""
    ids = set(product_ids)
    if not ids:
        return {}
    return {product.id: product for product in Product.objects.filter(pk__in=ids)}


def product_exists(*, product_id: UUID) -> bool:
    return Product.objects.filter(pk=product_id).exists()
