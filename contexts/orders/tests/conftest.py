"""Arrange helpers for the orders' tests.

Other contexts' data is arranged through their HTTP API (their public
surface), never their models or factories: a context's tests obey its
import boundaries.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from contexts.orders import saga
from contexts.orders.models import Order, SagaStatus

_skus = itertools.count()
_users = itertools.count()


@pytest.fixture
def make_user(db):
    """``make_user(is_staff=False)`` -> an account, made through Django's auth API."""

    def make(*, is_staff: bool = False):
        n = next(_users)
        return get_user_model().objects.create_user(
            email=f"orders-user-{n}@example.com",
            password=None,
            name=f"Buyer {n}",
            is_staff=is_staff,
        )

    return make


@pytest.fixture
def seller(make_user, make_auth_client) -> APIClient:
    """A client for a user who sells products (owns them, adjusts their stock)."""
    return make_auth_client(make_user())


@pytest.fixture
def make_product(seller) -> Callable[..., dict[str, Any]]:
    """``make_product(price="19.99", stock=10)`` -> the product as the catalog's API returns it."""

    def make(*, price: str | Decimal = "19.99", stock: int = 10, name: str = "") -> dict[str, Any]:
        n = next(_skus)
        response = seller.post(
            "/api/products",
            {"sku": f"ORD-{n:06d}", "name": name or f"Orderable {n}", "price": str(price)},
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


@pytest.fixture
def stock_of(api_client) -> Callable[[str], dict[str, int]]:
    """``stock_of(product_id)`` -> ``{"on_hand", "reserved", "available"}`` from the API."""

    def read(product_id: str) -> dict[str, int]:
        response = api_client.get(f"/api/inventory/{product_id}")
        assert response.status_code == 200, response.content
        return response.json()

    return read


@pytest.fixture
def run_saga(settings) -> Callable[[str], Order]:
    """Drive an order's saga in this process until it is finished; returns the order.

    Retries are due at once (no backoff), so each pass makes progress.
    """
    settings.ORDERS_SAGA_RETRY_BASE_SECONDS = 0

    def run(order_id, *, max_passes: int = 20) -> Order:
        for _ in range(max_passes):
            saga.saga_advance(order_id=order_id)
            order = Order.objects.select_related("saga").get(pk=order_id)
            if order.saga.status == SagaStatus.DONE:
                return order
        raise AssertionError(f"saga of {order_id} not finished after {max_passes} passes")

    return run


@pytest.fixture
def orders_outbox():
    """The orders context's outbox rows (on the orders' own database in split mode)."""
    from contexts.kernel.databases import database_for
    from contexts.kernel.models import OutboxMessage

    return OutboxMessage.objects.using(database_for("orders"))
