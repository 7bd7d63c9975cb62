"""Factories for the catalog's tables (they write through the catalog's alias via the router)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import factory
from django.conf import settings

from contexts.catalog.models import Product


class ProductFactory(factory.django.DjangoModelFactory):
    """A product straight in the table (no event): arrange-only, never the thing under test."""

    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    description = ""
    price = Decimal("19.99")
    currency = factory.LazyFunction(lambda: settings.SHOP_CURRENCY)
    owner_id = factory.LazyFunction(uuid.uuid4)
