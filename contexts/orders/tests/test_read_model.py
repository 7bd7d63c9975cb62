"""The order list's read model, fed by the orders' own events, in any order.

The handlers are called with the events as the relay would deliver them
(rebuilt from the outbox rows): once, twice, and in every order.
"""

from __future__ import annotations

import itertools

import pytest

from contexts.kernel.bus import subscriptions_for
from contexts.kernel.databases import database_for
from contexts.kernel.events import event_type
from contexts.kernel.models import OutboxMessage
from contexts.orders import handlers
from contexts.orders.models import OrderSummary

pytestmark = pytest.mark.django_db


def delivered_events(order_id):
    """The order's published events, rebuilt from the outbox as a delivery would."""
    rows = (
        OutboxMessage.objects.using(database_for("orders"))
        .filter(context="orders", payload__order_id=str(order_id))
        .order_by("created_at")
    )
    return [
        event_type(row.event_name, row.event_version).from_payload(
            row.payload,
            event_id=row.event_id,
            occurred_at=row.occurred_at,
            correlation_id=row.correlation_id,
        )
        for row in rows
    ]


def handle(event):
    for subscription in subscriptions_for(event.name, event.version):
        if subscription.context == "orders":
            subscription.handler(event)


def summary_of(order_id):
    row = OrderSummary.objects.get(order_id=order_id)
    return (row.status, row.cancel_reason, row.last_sequence, row.total, row.items)


@pytest.fixture
def cancelled_order(auth_client, place_order, make_product, run_saga):
    order_id = place_order(make_product(stock=2))["id"]
    run_saga(order_id)
    assert auth_client.post(f"/api/orders/{order_id}/cancel").status_code == 200
    return order_id


def test_each_event_has_an_orders_handler():
    for name in ("orders.OrderPlaced", "orders.OrderConfirmed", "orders.OrderCancelled"):
        subscribers = [s for s in subscriptions_for(name, 1) if s.context == "orders"]
        assert subscribers and all(s.handler.__module__ == handlers.__name__ for s in subscribers)


def test_handlers_rebuild_the_row_from_scratch(cancelled_order):
    expected = summary_of(cancelled_order)
    OrderSummary.objects.all().delete()

    for event in delivered_events(cancelled_order):
        handle(event)

    assert summary_of(cancelled_order) == expected
    assert expected[:2] == ("CANCELLED", "CUSTOMER_CANCELLED")


def test_events_in_any_order_and_repeated_end_in_the_same_row(cancelled_order):
    expected = summary_of(cancelled_order)
    events = delivered_events(cancelled_order)
    assert [e.name for e in events] == [
        "orders.OrderPlaced",
        "orders.OrderConfirmed",
        "orders.OrderCancelled",
    ]

    for shuffled in itertools.permutations(events):
        OrderSummary.objects.all().delete()
        for event in (*shuffled, *shuffled):
            handle(event)
        assert summary_of(cancelled_order) == expected


def test_a_stale_event_does_not_roll_the_row_back(cancelled_order):
    placed, confirmed, _ = delivered_events(cancelled_order)

    handle(confirmed)
    handle(placed)

    assert summary_of(cancelled_order)[:2] == ("CANCELLED", "CUSTOMER_CANCELLED")
