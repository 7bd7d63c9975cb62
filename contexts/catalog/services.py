"""Write use-cases of the catalog: each runs in one ``atomic("catalog")``.

Calls into other contexts (the users context, to verify an owner) happen
before the transaction opens, exactly as an HTTP call to another service would.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError

from contexts.catalog.errors import DuplicateSku, InvalidPrice, NotProductOwner, OwnerUnknown
from contexts.catalog.events import ProductCreated, ProductPriceChanged
from contexts.catalog.models import Product
from contexts.catalog.selectors import product_get
from contexts.kernel.outbox import publish
from contexts.kernel.transactions import atomic
from contexts.users import public as users_public

CONTEXT = "catalog"


def product_create(
    *,
    owner_id: UUID,
    sku: str,
    name: str,
    price: Decimal,
    description: str = "",
) -> Product:
    """Add a product owned by ``owner_id``; publishes ``ProductCreated``.

    Raises ``OwnerUnknown`` if the users context does not know the owner,
    ``InvalidPrice`` for a price <= 0 and ``DuplicateSku`` if the sku is taken
    (also when a concurrent request took it first).
    """
    _check_price(price)
    sku = sku.strip()
    # A call into another context: outside our own transaction.
    if not users_public.user_exists(owner_id):
        raise OwnerUnknown()
    try:
        with atomic(CONTEXT):
            product = Product.objects.create(
                sku=sku,
                name=name,
                description=description,
                price=price,
                currency=settings.SHOP_CURRENCY,
                owner_id=owner_id,
            )
            publish(
                ProductCreated(
                    product_id=product.id,
                    sku=product.sku,
                    product_name=product.name,
                    price=product.price,
                    currency=product.currency,
                    owner_id=product.owner_id,
                )
            )
    except IntegrityError:
        # The unique constraint is the real guard; a pre-check would race.
        if Product.objects.filter(sku__iexact=sku).exists():
            raise DuplicateSku() from None
        raise
    return product


def product_update(
    *,
    product_id: UUID,
    actor_id: UUID,
    actor_is_staff: bool = False,
    name: str | None = None,
    description: str | None = None,
    price: Decimal | None = None,
) -> Product:
    """Change a product's name, description or price (``None`` leaves a field alone).

    Only the owner or staff may; a price change publishes ``ProductPriceChanged``.
    """
    if price is not None:
        _check_price(price)
    with atomic(CONTEXT):
        product = product_get(product_id=product_id, for_update=True)
        _ensure_may_change(product, actor_id=actor_id, actor_is_staff=actor_is_staff)
        old_price = product.price
        changed: list[str] = []
        if name is not None and name != product.name:
            product.name = name
            changed.append("name")
        if description is not None and description != product.description:
            product.description = description
            changed.append("description")
        if price is not None and price != old_price:
            product.price = price
            changed.append("price")
        if changed:
            product.save(update_fields=[*changed, "updated_at"])
        if "price" in changed:
            publish(
                ProductPriceChanged(
                    product_id=product.id,
                    old_price=old_price,
                    new_price=product.price,
                    currency=product.currency,
                )
            )
    return product


def product_delete(*, product_id: UUID, actor_id: UUID, actor_is_staff: bool = False) -> None:
    """Delete a product for good (owner or staff only); orders already placed keep their copy."""
    with atomic(CONTEXT):
        product = product_get(product_id=product_id, for_update=True)
        _ensure_may_change(product, actor_id=actor_id, actor_is_staff=actor_is_staff)
        product.delete()


def _check_price(price: Decimal) -> None:
    if not price.is_finite() or price <= 0:
        raise InvalidPrice()


def _ensure_may_change(product: Product, *, actor_id: UUID, actor_is_staff: bool) -> None:
    if not actor_is_staff and product.owner_id != actor_id:
        raise NotProductOwner()
