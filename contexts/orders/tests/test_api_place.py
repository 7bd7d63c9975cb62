"""POST /api/orders as docs/api.md describes it: pricing, and every way to get it wrong.

Every rejected request answers 4xx JSON and stores nothing.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contexts.kernel.databases import database_for
from contexts.kernel.models import OutboxMessage
from contexts.orders.models import (
    IdempotencyRecord,
    Order,
    OrderHistoryEntry,
    OrderItem,
    OrderSummary,
    SagaState,
)
from contexts.orders.serializers import OrderPlaceSerializer

pytestmark = pytest.mark.django_db

ORDER_KEYS = {
    "id",
    "user_id",
    "status",
    "cancel_reason",
    "items",
    "total",
    "currency",
    "created_at",
    "updated_at",
}
ITEM_KEYS = {"product_id", "sku", "name", "quantity", "unit_price", "line_total"}


def body(product_id, quantity=1, token="tok_ok", **extra):
    return {
        "items": [{"product_id": str(product_id), "quantity": quantity}],
        "payment_token": token,
        **extra,
    }


def assert_nothing_stored():
    assert Order.objects.count() == 0
    assert OrderHistoryEntry.objects.count() == 0
    assert SagaState.objects.count() == 0
    assert OrderSummary.objects.count() == 0
    outbox = OutboxMessage.objects.using(database_for("orders"))
    assert not outbox.filter(event_name__startswith="orders.").exists()


# --- success ---------------------------------------------------------------------


def test_place_returns_a_pending_order_priced_by_the_catalog(auth_client, user, make_product):
    mug = make_product(price="19.99")
    tea = make_product(price="3.50")

    response = auth_client.post(
        "/api/orders",
        {
            "items": [
                {"product_id": mug["id"], "quantity": 2},
                {"product_id": tea["id"], "quantity": 3},
            ],
            "payment_token": "tok_visa",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    order = response.json()
    assert set(order) == ORDER_KEYS
    assert order["status"] == "PENDING"
    assert order["cancel_reason"] is None
    assert order["user_id"] == str(user.id)
    assert order["currency"] == "USD"
    assert order["total"] == "50.48"
    assert [set(item) for item in order["items"]] == [ITEM_KEYS, ITEM_KEYS]
    assert order["items"][0] == {
        "product_id": mug["id"],
        "sku": mug["sku"],
        "name": mug["name"],
        "quantity": 2,
        "unit_price": "19.99",
        "line_total": "39.98",
    }
    assert order["items"][1]["line_total"] == "10.50"
    assert order["created_at"].endswith("Z")


def test_place_stores_order_history_saga_read_model_and_event_together(
    auth_client, make_product, orders_outbox
):
    product = make_product()

    response = auth_client.post("/api/orders", body(product["id"]), format="json")

    order_id = response.json()["id"]
    stored = Order.objects.get(pk=order_id)
    assert stored.payment_token == "tok_ok"
    assert stored.last_sequence == 1
    assert list(
        OrderHistoryEntry.objects.filter(order_id=order_id).values_list("type", flat=True)
    ) == ["ORDER_PLACED"]
    saga = SagaState.objects.get(order_id=order_id)
    assert (saga.step, saga.status) == ("RESERVE_STOCK", "ACTIVE")
    assert OrderSummary.objects.get(order_id=order_id).status == "PENDING"
    placed = orders_outbox.get(event_name="orders.OrderPlaced")
    assert placed.payload["order_id"] == order_id
    assert placed.payload["total"] == "19.99"


def test_place_writes_everything_in_one_statement_and_wakes_the_saga_loop(
    auth_client, make_product
):
    product = make_product(price="2.50")
    connection = connections[database_for("orders")]

    with CaptureQueriesContext(connection) as queries:
        response = auth_client.post("/api/orders", body(product["id"], quantity=2), format="json")

    assert response.status_code == 201, response.content
    written = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "SELECT"))
    ]
    assert len(written) == 1 and written[0].startswith("WITH"), written
    assert sum("pg_notify" in q["sql"] for q in queries.captured_queries) == 1
    order = Order.objects.get(pk=response.json()["id"])
    assert [(item.quantity, item.line_total) for item in order.items.all()] == [
        (2, Decimal("5.00"))
    ]


def test_place_sets_the_keys_the_database_gave_the_items(user, make_product):
    from contexts.orders.services import LineRequest, order_place

    first, second = make_product(price="1.00"), make_product(price="2.00")
    placed = order_place(
        user_id=user.id,
        lines=[LineRequest(product_id=uuid.UUID(p["id"]), quantity=1) for p in (first, second)],
        payment_token="tok_ok",
    )

    items = placed.order._prefetched_objects_cache["items"]
    stored = dict(OrderItem.objects.filter(order_id=placed.order.id).values_list("id", "sku"))
    assert {item.pk: item.sku for item in items} == stored  # each key on its own item


def test_place_ignores_prices_totals_status_and_owner_sent_by_the_client(
    auth_client, user, make_product
):
    product = make_product(price="10.00")
    sent = {
        "items": [
            {"product_id": product["id"], "quantity": 1, "unit_price": "0.01", "line_total": "0"}
        ],
        "payment_token": "tok_ok",
        "total": "0.01",
        "status": "CONFIRMED",
        "user_id": str(uuid.uuid4()),
        "id": str(uuid.uuid4()),
        "cancel_reason": "OUT_OF_STOCK",
    }

    response = auth_client.post("/api/orders", sent, format="json")

    assert response.status_code == 201, response.content
    order = response.json()
    assert order["total"] == "10.00"
    assert order["items"][0]["unit_price"] == "10.00"
    assert order["status"] == "PENDING"
    assert order["cancel_reason"] is None
    assert order["user_id"] == str(user.id)
    assert order["id"] != sent["id"]


def test_place_accepts_the_limits(auth_client, make_product):
    product = make_product(price="1.00")

    response = auth_client.post(
        "/api/orders", body(product["id"], quantity=1000, token="t" * 200), format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["total"] == "1000.00"


def test_a_hundred_lines_are_valid_and_a_hundred_and_one_are_not():
    lines = [{"product_id": str(uuid.uuid4()), "quantity": 1} for _ in range(101)]

    assert OrderPlaceSerializer(data={"items": lines[:100], "payment_token": "tok"}).is_valid()
    assert not OrderPlaceSerializer(data={"items": lines, "payment_token": "tok"}).is_valid()


def test_the_price_is_the_one_at_placement(auth_client, seller, make_product):
    product = make_product(price="5.00")
    placed = auth_client.post("/api/orders", body(product["id"]), format="json").json()

    changed = seller.patch(f"/api/products/{product['id']}", {"price": "7.00"}, format="json")

    assert changed.status_code == 200
    again = auth_client.get(f"/api/orders/{placed['id']}").json()
    assert again["total"] == "5.00"


# --- rejected ---------------------------------------------------------------------


def test_place_requires_authentication(api_client, make_product):
    product = make_product()

    response = api_client.post("/api/orders", body(product["id"]), format="json")

    assert response.status_code == 401
    assert_nothing_stored()


def test_an_unknown_product_is_rejected(auth_client):
    response = auth_client.post("/api/orders", body(uuid.uuid4()), format="json")

    assert response.status_code == 400
    assert "items" in response.json()
    assert_nothing_stored()


def test_a_deleted_product_is_rejected(auth_client, seller, make_product):
    product = make_product()
    assert seller.delete(f"/api/products/{product['id']}").status_code == 204

    response = auth_client.post("/api/orders", body(product["id"]), format="json")

    assert response.status_code == 400
    assert "items" in response.json()
    assert_nothing_stored()


def test_one_unknown_product_rejects_the_whole_order(auth_client, make_product):
    product = make_product()
    sent = {
        "items": [
            {"product_id": product["id"], "quantity": 1},
            {"product_id": str(uuid.uuid4()), "quantity": 1},
        ],
        "payment_token": "tok_ok",
    }

    response = auth_client.post("/api/orders", sent, format="json")

    assert response.status_code == 400
    assert_nothing_stored()


def test_a_product_may_appear_once(auth_client, make_product):
    product = make_product()
    line = {"product_id": product["id"], "quantity": 1}

    response = auth_client.post(
        "/api/orders", {"items": [line, line], "payment_token": "tok"}, format="json"
    )

    assert response.status_code == 400
    assert "items" in response.json()
    assert_nothing_stored()


PRODUCT = "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({}, "items"),
        ({"payment_token": "tok"}, "items"),
        ({"items": [], "payment_token": "tok"}, "items"),
        ({"items": None, "payment_token": "tok"}, "items"),
        ({"items": "abc", "payment_token": "tok"}, "items"),
        ({"items": {"product_id": PRODUCT, "quantity": 1}, "payment_token": "tok"}, "items"),
        ({"items": [1], "payment_token": "tok"}, "items"),
        ({"items": [[PRODUCT, 1]], "payment_token": "tok"}, "items"),
        ({"items": [{"quantity": 1}], "payment_token": "tok"}, "items"),
        ({"items": [{"product_id": PRODUCT}], "payment_token": "tok"}, "items"),
        ({"items": [{"product_id": "not-a-uuid", "quantity": 1}], "payment_token": "t"}, "items"),
        ({"items": [{"product_id": 12345, "quantity": 1}], "payment_token": "t"}, "items"),
        ({"items": [{"product_id": None, "quantity": 1}], "payment_token": "t"}, "items"),
        ({"items": [{"product_id": PRODUCT, "quantity": 1}]}, "payment_token"),
        ({"items": [{"product_id": PRODUCT, "quantity": 1}], "payment_token": ""}, "payment_token"),
        (
            {"items": [{"product_id": PRODUCT, "quantity": 1}], "payment_token": "   "},
            "payment_token",
        ),
        (
            {"items": [{"product_id": PRODUCT, "quantity": 1}], "payment_token": None},
            "payment_token",
        ),
        (
            {"items": [{"product_id": PRODUCT, "quantity": 1}], "payment_token": 123},
            "payment_token",
        ),
        (
            {"items": [{"product_id": PRODUCT, "quantity": 1}], "payment_token": ["tok"]},
            "payment_token",
        ),
        (
            {"items": [{"product_id": PRODUCT, "quantity": 1}], "payment_token": "t" * 201},
            "payment_token",
        ),
        (
            {
                "items": [
                    {"product_id": str(uuid.UUID(int=n + 1)), "quantity": 1} for n in range(101)
                ],
                "payment_token": "tok",
            },
            "items",
        ),
    ],
)
def test_malformed_bodies_get_field_errors(auth_client, sent, field):
    response = auth_client.post("/api/orders", sent, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert_nothing_stored()


@pytest.mark.parametrize("quantity", [0, -1, 1001, 10**30, "1", "one", 1.0, 1.5, True, False, None])
def test_quantity_must_be_a_json_integer_from_1_to_1000(auth_client, make_product, quantity):
    product = make_product()

    response = auth_client.post(
        "/api/orders", body(product["id"], quantity=quantity), format="json"
    )

    assert response.status_code == 400, response.content
    assert "items" in response.json()
    assert_nothing_stored()


@pytest.mark.parametrize("raw", [b"[]", b'"order"', b"42", b"null", b"{not json", b""])
def test_a_body_that_is_not_a_json_object_is_rejected(auth_client, raw):
    response = auth_client.post("/api/orders", raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()
    assert_nothing_stored()


def test_a_body_that_is_not_json_gets_415(auth_client):
    response = auth_client.post("/api/orders", "items=1", content_type="text/plain")

    assert response.status_code == 415
    assert "detail" in response.json()
    assert_nothing_stored()


@pytest.mark.parametrize("key", ["", "   ", "k" * 256, "tab\tkey"])
def test_a_malformed_idempotency_key_is_rejected(auth_client, make_product, key):
    product = make_product()

    response = auth_client.post(
        "/api/orders", body(product["id"]), format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert_nothing_stored()


def test_a_total_beyond_what_payments_take_is_rejected(auth_client, make_product):
    product = make_product(price="9999999999.00")

    response = auth_client.post("/api/orders", body(product["id"], quantity=2), format="json")

    assert response.status_code == 400
    assert "items" in response.json()
    assert_nothing_stored()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    quantity=json_values,
    product_id=json_values,
    token=json_values,
    extra=st.dictionaries(st.text(max_size=10), json_values, max_size=2),
)
def test_no_body_makes_a_server_error(auth_client, quantity, product_id, token, extra):
    sent = {**extra, "items": [{"product_id": product_id, "quantity": quantity}]}
    sent["payment_token"] = token

    response = auth_client.post("/api/orders", json.dumps(sent), content_type="application/json")

    # Whatever was sent, the answer is a 4xx: none of these products exists.
    assert 400 <= response.status_code < 500, response.content
    assert_nothing_stored()
    assert IdempotencyRecord.objects.count() == 0


def test_money_is_two_decimal_places(auth_client, make_product):
    product = make_product(price=Decimal("3"))

    order = auth_client.post("/api/orders", body(product["id"], quantity=3), format="json").json()

    assert order["items"][0]["unit_price"] == "3.00"
    assert order["total"] == "9.00"
