"""Every saga ends: a step that retrying cannot fix stops in NEEDS_ATTENTION.

``tok_refund_reject`` charges normally and every refund of its charge is
rejected by the (simulated) gateway. The refund is retried a bounded number
of times, then the saga stops and waits for staff; stock never waits for it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from contexts.inventory import public as inventory
from contexts.orders import saga
from contexts.orders.models import Order, SagaState
from contexts.payments import public as payments

pytestmark = pytest.mark.django_db

BOUND = 3
ACCEPTING_GATEWAY = "contexts.payments.tests.gateways.RefundAcceptingGateway"


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.ORDERS_SAGA_RETRY_BASE_SECONDS = 0
    settings.ORDERS_SAGA_COMPENSATION_MAX_ATTEMPTS = BOUND


def drive(order_id, *, passes: int = 20) -> SagaState:
    """Run the saga until it stops being ACTIVE (or the passes run out)."""
    for _ in range(passes):
        saga.saga_advance(order_id=order_id)
        state = SagaState.objects.get(order_id=order_id)
        if state.status != "ACTIVE":
            return state
    return SagaState.objects.get(order_id=order_id)


def history(order_id) -> list:
    return list(Order.objects.get(pk=order_id).history.order_by("sequence"))


def types(order_id) -> list[str]:
    return [e.type for e in history(order_id)]


@pytest.fixture
def staff_client():
    admin = get_user_model().objects.create_superuser(
        email="saga-admin@example.com", password=None, name="Admin"
    )
    client = Client()
    client.force_login(admin)
    return client


def test_a_rejected_refund_after_a_customer_cancel_stops_for_staff(
    auth_client, place_order, make_product, stock_of, staff_client, settings, caplog
):
    product = make_product(stock=4)
    order_id = place_order(product, quantity=3, token="tok_refund_reject")["id"]
    assert drive(order_id).status == "DONE"
    assert Order.objects.get(pk=order_id).status == "CONFIRMED"
    other_id = place_order(product, quantity=1, token="tok_ok")["id"]
    drive(other_id)

    with caplog.at_level(logging.ERROR, logger="contexts.orders.saga"):
        response = auth_client.post(f"/api/orders/{order_id}/cancel")
        state = drive(order_id)

    assert response.status_code == 200, response.content
    # The saga stopped after the bound, instead of retrying forever.
    assert state.status == "NEEDS_ATTENTION"
    assert state.attempts <= BOUND
    assert "refund" in state.last_error.lower()
    assert saga.saga_advance(order_id=order_id) is False
    # Stock did not wait for the refund.
    assert stock_of(product["id"])["on_hand"] == 4 - 1
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason) == ("CANCELLED", "CUSTOMER_CANCELLED")
    assert "STOCK_RESTOCKED" in types(order_id)
    assert "PAYMENT_REFUNDED" not in types(order_id)
    assert types(order_id)[-1] == "PAYMENT_REFUND_AWAITS_STAFF"
    assert payments.get_payment_for_order(order_id=order_id).status == "CAPTURED"
    # Logged at ERROR with the last error.
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(order_id in r.getMessage() and "refund" in r.getMessage() for r in errors)

    # Staff see it: the admin filters on the saga status...
    listed = staff_client.get("/admin/orders/sagastate/?status__exact=NEEDS_ATTENTION")
    assert listed.status_code == 200
    assert order_id in listed.content.decode()
    assert other_id not in listed.content.decode()
    # ...and so does the command.
    out = StringIO()
    call_command("sagas_needing_attention", stdout=out)
    assert order_id in out.getvalue()
    assert other_id not in out.getvalue()

    # Once the gateway accepts (the PSP fixed the charge), staff resume it.
    settings.PAYMENT_GATEWAY = ACCEPTING_GATEWAY
    resumed = staff_client.post(
        "/admin/orders/sagastate/",
        {"action": "resume", "_selected_action": [order_id]},
    )
    assert resumed.status_code == 302
    assert drive(order_id).status == "DONE"
    assert payments.get_payment_for_order(order_id=order_id).status == "REFUNDED"
    assert types(order_id)[-1] == "PAYMENT_REFUNDED"
    assert stock_of(product["id"])["on_hand"] == 4 - 1
    out = StringIO()
    call_command("sagas_needing_attention", stdout=out)
    assert order_id not in out.getvalue()


def test_a_rejected_refund_in_a_compensation_cancels_once_stock_is_released(
    place_order, make_product, stock_of, settings, monkeypatch
):
    product = make_product(stock=2)
    order_id = place_order(product, quantity=2, token="tok_refund_reject")["id"]
    real_commit = inventory.commit_stock_for_orders

    def commit_after_expiry(*, order_ids):
        # Captured, then the reservation's time ran out before the commit: refund and cancel.
        inventory.expire_reservations(now=timezone.now() + timedelta(days=1))
        return real_commit(order_ids=order_ids)

    monkeypatch.setattr(inventory, "commit_stock_for_orders", commit_after_expiry)

    state = drive(order_id)

    assert state.status == "NEEDS_ATTENTION"
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason) == ("CANCELLED", "OUT_OF_STOCK")
    assert stock_of(product["id"]) == {
        "product_id": product["id"],
        "on_hand": 2,
        "reserved": 0,
        "available": 2,
    }
    assert types(order_id)[-1] == "PAYMENT_REFUND_AWAITS_STAFF"
    assert "PAYMENT_REFUNDED" not in types(order_id)

    out = StringIO()
    call_command("sagas_needing_attention", "--resume", order_id, stdout=out)
    assert SagaState.objects.get(order_id=order_id).status == "ACTIVE"
    # The gateway still rejects it: the saga stops again after the bound.
    assert drive(order_id).status == "NEEDS_ATTENTION"

    settings.PAYMENT_GATEWAY = ACCEPTING_GATEWAY
    call_command("sagas_needing_attention", "--resume", order_id, stdout=StringIO())
    assert drive(order_id).status == "DONE"
    assert payments.get_payment_for_order(order_id=order_id).status == "REFUNDED"


def test_a_deterministic_failure_while_confirming_stops_after_the_bound(
    place_order, make_product, monkeypatch
):
    order_id = place_order(make_product(stock=1), token="tok_ok")["id"]

    def broken(*, order_ids):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(inventory, "commit_stock_for_orders", broken)

    state = drive(order_id)

    assert (state.step, state.status) == ("CONFIRM_ORDER", "NEEDS_ATTENTION")
    assert "ZeroDivisionError" in state.last_error
    assert Order.objects.get(pk=order_id).status == "PENDING"


def test_a_payment_the_gateway_cannot_be_asked_about_does_not_hold_the_stock(
    place_order, make_product, stock_of, settings
):
    """The last charge attempt hung and the status lookup fails: cancel now, settle later."""
    settings.ORDERS_PAYMENT_MAX_ATTEMPTS = 1
    settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS = 0.01
    settings.PAYMENT_GATEWAY = "contexts.payments.tests.gateways.UnreachableLookupGateway"
    product = make_product(stock=2)
    order_id = place_order(product, quantity=2, token="tok_hang")["id"]

    saga.saga_advance(order_id=order_id)

    order = Order.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason) == ("CANCELLED", "PAYMENT_FAILED")
    assert stock_of(product["id"])["available"] == 2
    state = SagaState.objects.get(order_id=order_id)
    assert (state.step, state.status) == ("REFUND_PAYMENT", "ACTIVE")
    assert types(order_id)[-2:] == ["PAYMENT_REFUND_PENDING", "ORDER_CANCELLED"]

    settings.PAYMENT_GATEWAY = "contexts.payments.simulated_gateway.SimulatedGateway"
    assert drive(order_id).status == "DONE"
    assert types(order_id)[-1] == "PAYMENT_NOT_TAKEN"
    assert payments.get_payment_for_order(order_id=order_id).status == "FAILED"
