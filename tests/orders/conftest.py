"""Arrange helpers for the orders' end-to-end tests: products and stock through the API."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from rest_framework.test import APIClient

from contexts.users.tests.factories import UserFactory

_skus = itertools.count()


@pytest.fixture
def seller(make_auth_client) -> APIClient:
    return make_auth_client(UserFactory())


@pytest.fixture
def make_product(seller):
    """``make_product(price="19.99", stock=10)`` -> the product, as the catalog's API returns it."""

    def make(*, price: str = "19.99", stock: int = 10) -> dict[str, Any]:
        n = next(_skus)
        response = seller.post(
            "/api/products",
            {"sku": f"E2E-{n:06d}", "name": f"End to end {n}", "price": price},
            format="json",
        )
        assert response.status_code == 201, response.content
        product = response.json()
        if stock:
            adjusted = seller.post(
                f"/api/inventory/{product['id']}/adjust", {"delta": stock}, format="json"
            )
            assert adjusted.status_code == 200, adjusted.content
        return product

    return make
