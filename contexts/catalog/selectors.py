"""Read queries of the catalog."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from uuid import UUID

from django.db.models import Q, QuerySet

from contexts.catalog.errors import ProductNotFound
from contexts.catalog.models import Product

# ``?ordering=`` values of the product list; ties are broken by id, so pages are stable.
PRODUCT_ORDERINGS = ("price", "-price", "name", "-name", "created_at", "-created_at")


def product_list() -> QuerySet[Product]:
    """Every product, newest first (``product_filter`` narrows and reorders it)."""
    return Product.objects.order_by("-created_at", "-id")


def product_filter(
    products: QuerySet[Product],
    *,
    search: str = "",
    owner_id: UUID | None = None,
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    ordering: str = "",
) -> QuerySet[Product]:
    """``products`` narrowed by every criterion given; an empty or None one is no filter.

    ``search`` matches name, sku or description (any case); the price bounds are
    inclusive; ``ordering`` is one of ``PRODUCT_ORDERINGS`` (descending with a
    leading ``-``).
    """
    if search:
        products = products.filter(
            Q(name__icontains=search) | Q(sku__icontains=search) | Q(description__icontains=search)
        )
    if owner_id is not None:
        products = products.filter(owner_id=owner_id)
    if min_price is not None:
        products = products.filter(price__gte=min_price)
    if max_price is not None:
        products = products.filter(price__lte=max_price)
    if ordering:
        if ordering not in PRODUCT_ORDERINGS:
            raise ValueError(f"unknown product ordering {ordering!r}")
        products = products.order_by(ordering, "-id" if ordering.startswith("-") else "id")
    return products


def product_get(*, product_id: UUID, for_update: bool = False) -> Product:
    """The product, or ``ProductNotFound``; ``for_update`` locks its row (inside a transaction)."""
    products = Product.objects.select_for_update() if for_update else Product.objects.all()
    product = products.filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound()
    return product


def get_product(*, product_id: UUID) -> Product | None:
    """The product, or None."""
    return Product.objects.filter(pk=product_id).first()


def get_products(*, product_ids: Iterable[UUID]) -> dict[UUID, Product]:
    """The existing products among ``product_ids``, in one query."""
    ids = set(product_ids)
    if not ids:
        return {}
    return {product.id: product for product in Product.objects.filter(pk__in=ids)}


def product_exists(*, product_id: UUID) -> bool:
    return Product.objects.filter(pk=product_id).exists()
