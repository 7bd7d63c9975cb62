"""The inventory's HTTP API as docs/api.md describes it: every success and every error status.

Products are made through the catalog's HTTP API, as a client would.
"""

from __future__ import annotations

import itertools
import uuid

import pytest
from django.contrib.auth import get_user_model

from contexts.inventory.contracts import StockLine
from contexts.inventory.models import StockAdjustment
from contexts.inventory.public import reserve_stock_for_order

pytestmark = pytest.mark.django_db

_skus = itertools.count()


@pytest.fixture
def product_id(auth_client) -> str:
    """A product owned by ``user`` (the ``auth_client``'s account)."""
    response = auth_client.post(
        "/api/products",
        {"sku": f"INV-{next(_skus)}", "name": "Thing", "price": "3.00"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.fixture
def stranger():
    """An account that owns nothing (made through Django's auth API)."""
    return get_user_model().objects.create_user(
        email=f"stranger-{uuid.uuid4().hex[:8]}@example.com", password=None, name="Stranger"
    )


def adjust(client, product_id, body):
    return client.post(f"/api/inventory/{product_id}/adjust", body, format="json")


# --- GET /api/inventory/{product_id} ------------------------------------------------------


def test_a_new_product_starts_with_zero_stock(api_client, product_id):
    response = api_client.get(f"/api/inventory/{product_id}")

    assert response.status_code == 200
    assert response.json() == {
        "product_id": product_id,
        "on_hand": 0,
        "reserved": 0,
        "available": 0,
    }


def test_levels_show_what_is_reserved(api_client, auth_client, product_id):
    adjust(auth_client, product_id, {"delta": 5})
    reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(uuid.UUID(product_id), 2)])

    response = api_client.get(f"/api/inventory/{product_id}")

    assert response.json() == {
        "product_id": product_id,
        "on_hand": 5,
        "reserved": 2,
        "available": 3,
    }


def test_levels_of_an_unknown_product_are_404(api_client):
    response = api_client.get(f"/api/inventory/{uuid.uuid4()}")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_levels_of_a_deleted_product_are_404(api_client, auth_client, product_id):
    assert auth_client.delete(f"/api/products/{product_id}").status_code == 204

    assert api_client.get(f"/api/inventory/{product_id}").status_code == 404


def test_a_malformed_product_id_is_a_json_404(api_client):
    response = api_client.get("/api/inventory/not-a-uuid")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- POST /api/inventory/{product_id}/adjust -------------------------------------------------


def test_the_owner_adjusts_stock(auth_client, product_id, user):
    response = adjust(auth_client, product_id, {"delta": 10, "reason": "delivery"})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "product_id": product_id,
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
    }
    entry = StockAdjustment.objects.get(product_id=product_id)
    assert (entry.delta, entry.reason, entry.actor_id) == (10, "delivery", user.id)


def test_a_negative_delta_removes_stock(auth_client, product_id):
    adjust(auth_client, product_id, {"delta": 10})

    response = adjust(auth_client, product_id, {"delta": -4})

    assert response.status_code == 200
    assert response.json()["on_hand"] == 6


def test_staff_adjusts_anyones_stock(make_auth_client, staff_user, product_id):
    response = adjust(make_auth_client(staff_user), product_id, {"delta": 3})

    assert response.status_code == 200
    assert response.json()["on_hand"] == 3


def test_adjusting_below_what_is_reserved_is_409(api_client, auth_client, product_id):
    adjust(auth_client, product_id, {"delta": 5})
    reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(uuid.UUID(product_id), 4)])

    response = adjust(auth_client, product_id, {"delta": -2})

    assert response.status_code == 409
    assert "detail" in response.json()
    assert api_client.get(f"/api/inventory/{product_id}").json()["on_hand"] == 5


def test_adjusting_below_zero_is_409(auth_client, product_id):
    response = adjust(auth_client, product_id, {"delta": -1})

    assert response.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"delta": "5"},
        {"delta": 1.5},
        {"delta": 5.0},
        {"delta": True},
        {"delta": None},
        {"delta": [1]},
        {"delta": 2**31},
        {"reason": "no delta"},
        {"delta": 1, "reason": "r" * 201},
        {"delta": 1, "reason": {"a": 1}},
    ],
)
def test_a_malformed_adjustment_is_400(auth_client, product_id, body):
    response = adjust(auth_client, product_id, body)

    assert response.status_code == 400
    assert response.json()
    assert not StockAdjustment.objects.filter(product_id=product_id).exists()


@pytest.mark.parametrize("body", [[], "5", 5])
def test_an_adjustment_that_is_not_an_object_is_400(auth_client, product_id, body):
    response = adjust(auth_client, product_id, body)

    assert response.status_code == 400


def test_an_adjustment_that_is_not_json_is_rejected(auth_client, product_id):
    malformed = auth_client.post(
        f"/api/inventory/{product_id}/adjust", "{", content_type="application/json"
    )
    form = auth_client.post(
        f"/api/inventory/{product_id}/adjust",
        "delta=1",
        content_type="application/x-www-form-urlencoded",
    )

    assert malformed.status_code == 400
    assert form.status_code == 415


def test_adjusting_anonymously_is_401(api_client, product_id):
    response = adjust(api_client, product_id, {"delta": 1})

    assert response.status_code == 401


def test_adjusting_someone_elses_product_is_403(make_auth_client, stranger, product_id):
    response = adjust(make_auth_client(stranger), product_id, {"delta": 1})

    assert response.status_code == 403
    assert not StockAdjustment.objects.filter(product_id=product_id).exists()


def test_adjusting_an_unknown_product_is_404(auth_client):
    response = adjust(auth_client, uuid.uuid4(), {"delta": 1})

    assert response.status_code == 404


def test_get_on_adjust_is_405(auth_client, product_id):
    assert auth_client.get(f"/api/inventory/{product_id}/adjust").status_code == 405
