"""GET /api/orders filters (docs/api.md): status and an inclusive creation-time range."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contexts.orders.models import OrderSummary
from contexts.orders.tests.test_api_read import count_queries

pytestmark = pytest.mark.django_db

# Creation times of the three orders of ``dated``: an instant, midnight, an instant.
JAN_9_EVENING = datetime(2026, 1, 9, 22, 30, tzinfo=UTC)
JAN_10_MIDNIGHT = datetime(2026, 1, 10, tzinfo=UTC)
JAN_11_NOON = datetime(2026, 1, 11, 12, tzinfo=UTC)


@pytest.fixture
def dated(place_order, make_product):
    """Three of the caller's orders: PENDING, CONFIRMED, CANCELLED, created at the times above."""
    product = make_product(stock=50)
    ids = []
    for status, created_at in (
        ("PENDING", JAN_9_EVENING),
        ("CONFIRMED", JAN_10_MIDNIGHT),
        ("CANCELLED", JAN_11_NOON),
    ):
        order_id = place_order(product)["id"]
        # The list reads the read model only; arranging its rows is enough here.
        OrderSummary.objects.filter(order_id=order_id).update(status=status, created_at=created_at)
        ids.append(order_id)
    return ids


def listed(client, query: str) -> list[str]:
    response = client.get(f"/api/orders?{query}")
    assert response.status_code == 200, response.content
    return [o["id"] for o in response.json()["results"]]


@pytest.mark.parametrize(("status", "index"), [("PENDING", 0), ("CONFIRMED", 1), ("CANCELLED", 2)])
def test_status_keeps_only_that_status(auth_client, dated, status, index):
    assert listed(auth_client, f"status={status}") == [dated[index]]


def test_filters_never_show_another_users_orders(
    auth_client, dated, place_order, make_product, make_user, make_auth_client
):
    other = make_auth_client(make_user())
    theirs = place_order(make_product(), client=other)["id"]

    assert theirs not in listed(auth_client, "status=PENDING&created_after=2000-01-01")
    assert listed(other, "status=PENDING") == [theirs]


@pytest.mark.parametrize(
    ("query", "indexes"),
    [
        # A date alone is 00:00 UTC of that day, and both bounds are inclusive.
        ("created_after=2026-01-10", [2, 1]),
        ("created_before=2026-01-10", [1, 0]),
        ("created_after=2026-01-10&created_before=2026-01-10", [1]),
        ("created_after=2026-01-11", [2]),
        ("created_before=2026-01-09", []),
        # Date-times: the exact instant is inside; an offset is honoured; none means UTC.
        ("created_after=2026-01-11T12:00:00Z", [2]),
        ("created_after=2026-01-11T12:00:00.000001Z", []),
        ("created_before=2026-01-09T22:30Z", [0]),
        ("created_before=2026-01-09T22:29:59.999999Z", []),
        ("created_after=2026-01-10T01:00:00%2B01:00", [2, 1]),  # = 2026-01-10T00:00Z
        ("created_after=2026-01-10T00:00:00-00:01", [2]),  # = 2026-01-10T00:01Z
        ("created_before=2026-01-09T22:30", [0]),
        ("created_after=&created_before=", [2, 1, 0]),
    ],
)
def test_creation_range(auth_client, dated, query, indexes):
    assert listed(auth_client, query) == [dated[i] for i in indexes]


def test_status_and_range_combine(auth_client, dated):
    assert listed(auth_client, "status=CONFIRMED&created_after=2026-01-10") == [dated[1]]
    assert listed(auth_client, "status=PENDING&created_after=2026-01-10") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=NOT_A_STATUS", "status"),
        ("status=pending", "status"),
        ("status=PENDING,CONFIRMED", "status"),
        ("created_after=yesterday", "created_after"),
        ("created_after=2026-02-30", "created_after"),
        ("created_after=2026-01-10T25:00Z", "created_after"),
        ("created_after=20260110", "created_after"),
        ("created_after=2026-01-10%2010:00", "created_after"),
        ("created_after=2026-01-10T10:00%2B0100", "created_after"),
        ("created_before=1700000000", "created_before"),
        ("created_before=9999-12-31T23:59:59-23:59", "created_before"),  # past year 9999 in UTC
        ("created_before=0001-01-01T00:00:00%2B01:00", "created_before"),  # before year 1
        ("created_before=%D9%A2%D9%A0%D9%A2%D9%A6-01-01", "created_before"),  # non-ASCII digits
        ("created_before=2026-01-10%0A", "created_before"),
    ],
)
def test_invalid_filter_values_are_400_with_the_field_named(auth_client, dated, query, field):
    response = auth_client.get(f"/api/orders?{query}")

    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert isinstance(body[field], list) and body[field]


def test_filtered_lists_cost_the_same_queries_for_1_or_20_orders(
    place_order, make_product, make_user, make_auth_client
):
    product = make_product(stock=100)
    few = make_auth_client(make_user())
    place_order(product, client=few)
    many = make_auth_client(make_user())
    for _ in range(20):
        place_order(product, client=many)
    query = "/api/orders?page_size=20&status=PENDING&created_after=2000-01-01"

    with count_queries() as one:
        assert len(few.get(query).json()["results"]) == 1
    with count_queries() as twenty:
        assert len(many.get(query).json()["results"]) == 20

    assert twenty() == one()
    assert one() <= 3
