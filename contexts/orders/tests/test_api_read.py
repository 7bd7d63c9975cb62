"""GET /api/orders, /api/orders/{id}, /api/orders/{id}/history and who may see what."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from contexts.orders.models import OrderSummary

pytestmark = pytest.mark.django_db


# --- detail and history ---------------------------------------------------------------


def test_the_owner_sees_the_order_as_placed(auth_client, place_order, make_product):
    placed = place_order(make_product(), (make_product(price="2.00"), 2))

    response = auth_client.get(f"/api/orders/{placed['id']}")

    assert response.status_code == 200
    assert response.json() == placed


def test_another_user_gets_404_and_staff_sees_it(
    place_order, make_product, make_user, make_auth_client, staff_user
):
    placed = place_order(make_product())
    stranger = make_auth_client(make_user())
    staff = make_auth_client(staff_user)

    for path in (f"/api/orders/{placed['id']}", f"/api/orders/{placed['id']}/history"):
        assert stranger.get(path).status_code == 404
        assert staff.get(path).status_code == 200
    assert stranger.post(f"/api/orders/{placed['id']}/cancel").status_code == 404


def test_anonymous_gets_401(api_client, place_order, make_product):
    placed = place_order(make_product())

    assert api_client.get("/api/orders").status_code == 401
    assert api_client.get(f"/api/orders/{placed['id']}").status_code == 401
    assert api_client.get(f"/api/orders/{placed['id']}/history").status_code == 401
    assert api_client.post(f"/api/orders/{placed['id']}/cancel").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/orders/{unknown}",
        "/api/orders/{unknown}/history",
        "/api/orders/not-a-uuid",
        "/api/orders/123/history",
        "/api/orders/{unknown}/",
    ],
)
def test_unknown_or_malformed_ids_get_404_json(auth_client, path):
    response = auth_client.get(path.format(unknown=uuid.uuid4()))

    assert response.status_code == 404
    assert response.json()["detail"]


def test_cancel_of_an_unknown_order_is_404(auth_client):
    response = auth_client.post(f"/api/orders/{uuid.uuid4()}/cancel")

    assert response.status_code == 404


def test_history_lists_entries_oldest_first(auth_client, place_order, make_product, run_saga):
    placed = place_order(make_product())
    run_saga(placed["id"])

    response = auth_client.get(f"/api/orders/{placed['id']}/history")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results"}
    entries = body["results"]
    assert [e["sequence"] for e in entries] == [1, 2, 3, 4]
    assert [e["type"] for e in entries] == [
        "ORDER_PLACED",
        "STOCK_RESERVED",
        "PAYMENT_CAPTURED",
        "ORDER_CONFIRMED",
    ]
    assert all(set(e) == {"sequence", "type", "occurred_at", "data"} for e in entries)
    assert entries[0]["data"]["total"] == placed["total"]


def test_methods_not_offered_get_405(auth_client, place_order, make_product):
    placed = place_order(make_product())

    assert auth_client.delete(f"/api/orders/{placed['id']}").status_code == 405
    assert auth_client.put("/api/orders", {}, format="json").status_code == 405
    assert auth_client.get(f"/api/orders/{placed['id']}/cancel").status_code == 405


# --- the list (read model) -------------------------------------------------------------


def test_the_list_shows_the_callers_orders_newest_first(
    auth_client, place_order, make_product, make_user, make_auth_client
):
    product = make_product(stock=50)
    mine = [place_order(product) for _ in range(3)]
    other = make_auth_client(make_user())
    theirs = place_order(product, client=other)

    response = auth_client.get("/api/orders")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["next"] is None and body["previous"] is None
    assert [o["id"] for o in body["results"]] == [o["id"] for o in reversed(mine)]
    assert body["results"][0] == mine[-1]
    assert theirs["id"] not in {o["id"] for o in body["results"]}
    assert [o["id"] for o in other.get("/api/orders").json()["results"]] == [theirs["id"]]


def test_the_list_is_paginated(auth_client, place_order, make_product):
    product = make_product(stock=50)
    placed = [place_order(product) for _ in range(5)]

    first = auth_client.get("/api/orders?page_size=2").json()
    last = auth_client.get("/api/orders?page_size=2&page=3").json()

    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert first["next"] is not None
    assert [o["id"] for o in last["results"]] == [placed[0]["id"]]
    assert auth_client.get("/api/orders?page=99").status_code == 404


def test_the_list_follows_the_saga(auth_client, place_order, make_product, run_saga):
    placed = place_order(make_product(stock=0))
    run_saga(placed["id"])

    listed = auth_client.get("/api/orders").json()["results"][0]
    detail = auth_client.get(f"/api/orders/{placed['id']}").json()

    assert listed == detail
    assert (listed["status"], listed["cancel_reason"]) == ("CANCELLED", "OUT_OF_STOCK")


def test_the_list_reads_only_the_read_model(auth_client, place_order, make_product):
    placed = place_order(make_product())
    OrderSummary.objects.filter(order_id=placed["id"]).update(status="CONFIRMED")

    listed = auth_client.get("/api/orders").json()["results"][0]

    assert listed["status"] == "CONFIRMED"  # the summary, not the order row


def test_the_list_costs_the_same_queries_for_1_or_20_orders(
    auth_client, place_order, make_product, make_user, make_auth_client
):
    products = [make_product(stock=100) for _ in range(4)]
    few = make_auth_client(make_user())
    place_order(*products, client=few)
    many = make_auth_client(make_user())
    for _ in range(20):
        place_order(*products, client=many)

    with count_queries() as one:
        assert len(few.get("/api/orders?page_size=20").json()["results"]) == 1
    with count_queries() as twenty:
        response = many.get("/api/orders?page_size=20").json()
    assert len(response["results"]) == 20
    assert all(len(o["items"]) == 4 for o in response["results"])

    assert twenty() == one()
    assert one() <= 3  # the caller's account, the count, the page


class count_queries:
    """Count the queries on every database alias (split mode has several)."""

    def __enter__(self):
        self._stack = ExitStack()
        self._captures = [
            self._stack.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in connections
        ]
        return lambda: sum(len(c) for c in self._captures)

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)


# --- what the history tells (reasons, never internals) ----------------------------------


def _leaks(body: str, *needles: str) -> list[str]:
    return [needle for needle in needles if needle.lower() in body.lower()]


def test_a_gateway_failure_shows_a_reason_only(
    auth_client, place_order, make_product, run_saga, settings, make_auth_client, staff_user
):
    settings.ORDERS_PAYMENT_MAX_ATTEMPTS = 2
    placed = place_order(make_product(), token="tok_fail")
    assert run_saga(placed["id"]).cancel_reason == "PAYMENT_FAILED"

    for client in (auth_client, make_auth_client(staff_user)):
        response = client.get(f"/api/orders/{placed['id']}/history")
        assert response.status_code == 200
        assert _leaks(response.content.decode(), "GatewayError", "simulated", "request 1") == []
        entries = {e["type"]: e["data"] for e in response.json()["results"]}
        assert entries["PAYMENT_RETRY_SCHEDULED"]["reason"] == (
            "The payment service did not respond; trying again."
        )
        assert entries["PAYMENT_FAILED"]["reason"] == "The payment could not be completed."
        assert entries["ORDER_CANCELLED"] == {"reason": "PAYMENT_FAILED"}
    # The raw detail is kept for staff, in the admin.
    from contexts.orders.models import OrderHistoryEntry

    stored = OrderHistoryEntry.objects.get(order_id=placed["id"], type="PAYMENT_FAILED").data
    assert "GatewayError" in str(stored) or "simulated" in str(stored)


def test_a_decline_and_a_refused_reservation_show_reasons_only(
    auth_client, place_order, make_product, run_saga
):
    declined = place_order(make_product(), token="tok_decline")
    run_saga(declined["id"])

    entries = {
        e["type"]: e["data"]
        for e in auth_client.get(f"/api/orders/{declined['id']}/history").json()["results"]
    }
    assert entries["PAYMENT_DECLINED"] == {"reason": "The payment was declined."}


def test_a_cancel_by_staff_shows_no_staff_id(
    auth_client, place_order, make_product, run_saga, make_auth_client, staff_user
):
    placed = place_order(make_product())
    run_saga(placed["id"])
    staff = make_auth_client(staff_user)
    assert staff.post(f"/api/orders/{placed['id']}/cancel").status_code == 200

    for client in (auth_client, staff):
        body = client.get(f"/api/orders/{placed['id']}/history").content.decode()
        assert _leaks(body, str(staff_user.id), "actor") == []
        cancelled = [e for e in json.loads(body)["results"] if e["type"] == "ORDER_CANCELLED"]
        assert cancelled[0]["data"] == {"reason": "CUSTOMER_CANCELLED", "cancelled_by": "staff"}
    from contexts.orders.models import OrderHistoryEntry

    stored = OrderHistoryEntry.objects.get(order_id=placed["id"], type="ORDER_CANCELLED").data
    assert stored["actor_id"] == str(staff_user.id)  # kept for the admin
