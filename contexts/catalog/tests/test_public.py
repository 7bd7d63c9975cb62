"""The catalog's public interface, as other contexts call it."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connections

from contexts.catalog import contracts, public
from contexts.catalog.tests.factories import ProductFactory
from contexts.kernel.databases import database_for

pytestmark = pytest.mark.django_db


def test_get_product_returns_plain_data():
    product = ProductFactory(sku="S-1", name="Spoon", price=Decimal("2.50"))

    info = public.get_product(product.id)

    assert info == contracts.ProductInfo(
        id=product.id,
        sku="S-1",
        name="Spoon",
        price=Decimal("2.50"),
        currency="USD",
        owner_id=product.owner_id,
    )


def test_get_product_of_an_unknown_or_deleted_product_is_none():
    product = ProductFactory()
    product.delete()

    assert public.get_product(product.id) is None
    assert public.get_product(uuid.uuid4()) is None


def test_get_products_answers_in_one_query_and_leaves_out_missing_ids(
    django_assert_num_queries,
):
    a, b = ProductFactory.create_batch(2)
    missing = uuid.uuid4()

    with django_assert_num_queries(1, connection=connections[database_for("catalog")]):
        found = public.get_products([a.id, b.id, missing])

    assert set(found) == {a.id, b.id}
    assert found[a.id].price == a.price
    assert public.get_products([]) == {}


def test_product_exists():
    product = ProductFactory()

    assert public.product_exists(product.id) is True
    assert public.product_exists(uuid.uuid4()) is False
