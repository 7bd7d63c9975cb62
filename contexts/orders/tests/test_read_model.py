"""The order list's read model is written in the order's own transactions.

No event travels through the broker to keep it: after every change the row is
what the order's history says (``summary_fields(replay(history))``), and the
orders context subscribes to none of its own events. Deliveries for the
handlers that used to project it (queued or listed by older deployments) are
closed and confirmed without running anything.
"""

from __future__ import annotations

import pytest

from contexts.kernel import delivery
from contexts.kernel.bus import is_retired, subscriptions_for
from contexts.kernel.databases import database_for
from contexts.kernel.models import InboxMessage, OutboxMessage
from contexts.kernel.relay import envelope_of
from contexts.kernel.testing import purge_broker
from contexts.orders import history
from contexts.orders.models import OrderHistoryEntry, OrderSummary

pytestmark = pytest.mark.django_db

RETIRED = (
    "orders.project_order_placed",
    "orders.project_order_confirmed",
    "orders.project_order_cancelled",
)


def projected(order_id):
    """The row the order's history gives."""
    state = history.replay(OrderHistoryEntry.objects.filter(order_id=order_id).order_by("sequence"))
    return history.summary_fields(state)


def assert_row_matches_history(order_id):
    row = OrderSummary.objects.get(order_id=order_id)
    for field, value in projected(order_id).items():
        assert getattr(row, field) == value, field


def test_no_orders_handler_consumes_the_orders_own_events():
    for name in ("orders.OrderPlaced", "orders.OrderConfirmed", "orders.OrderCancelled"):
        assert [s for s in subscriptions_for(name, 1) if s.context == "orders"] == []
    assert all(is_retired(handler) for handler in RETIRED)


def test_every_change_of_an_order_writes_its_row_in_the_same_transaction(
    auth_client, place_order, make_product, run_saga
):
    order_id = place_order(make_product(stock=2))["id"]
    assert_row_matches_history(order_id)
    assert OrderSummary.objects.get(order_id=order_id).status == "PENDING"

    run_saga(order_id)
    assert_row_matches_history(order_id)
    assert OrderSummary.objects.get(order_id=order_id).status == "CONFIRMED"

    assert auth_client.post(f"/api/orders/{order_id}/cancel").status_code == 200
    assert_row_matches_history(order_id)
    row = OrderSummary.objects.get(order_id=order_id)
    assert (row.status, row.cancel_reason) == ("CANCELLED", "CUSTOMER_CANCELLED")


def test_a_saga_that_cancels_writes_the_row_too(place_order, make_product, run_saga):
    order_id = place_order(make_product(stock=2), token="tok_decline")["id"]
    run_saga(order_id)  # the payment is declined: the saga cancels the order
    assert_row_matches_history(order_id)
    assert OrderSummary.objects.get(order_id=order_id).status == "CANCELLED"


@pytest.mark.django_db(transaction=True)
def test_deliveries_for_the_removed_handlers_are_closed_and_confirmed(
    place_order, make_product, run_saga
):
    """An outbox row of an older deployment still lists the removed handlers."""
    order_id = place_order(make_product(stock=2))["id"]
    run_saga(order_id)
    alias = database_for("orders")
    row = OutboxMessage.objects.using(alias).get(
        event_name="orders.OrderConfirmed", payload__order_id=str(order_id)
    )
    row.unconfirmed = {**row.unconfirmed, "orders.project_order_confirmed": "orders"}
    row.save(update_fields=["unconfirmed"])
    # ...and a retry of it was pending in the inbox when the code changed.
    InboxMessage.objects.using(alias).create(
        event_id=row.event_id,
        handler="orders.project_order_confirmed",
        context="orders",
        event_name=row.event_name,
        event_version=row.event_version,
        envelope=envelope_of(row),
        attempts=1,
        received_at=row.created_at,
        last_attempt_at=row.created_at,
        next_attempt_at=row.created_at,
    )
    purge_broker()
    before = OrderSummary.objects.get(order_id=order_id).updated_at

    outcome = delivery.deliver(
        context="orders", handler="orders.project_order_confirmed", event=envelope_of(row)
    )

    assert outcome == delivery.RETIRED
    inbox = InboxMessage.objects.using(alias).get(
        event_id=row.event_id, handler="orders.project_order_confirmed"
    )
    assert (inbox.status, inbox.next_attempt_at) == (InboxMessage.Status.PROCESSED, None)
    row.refresh_from_db()
    assert "orders.project_order_confirmed" not in row.unconfirmed  # confirmed locally
    assert OrderSummary.objects.get(order_id=order_id).updated_at == before
