"""Staff operations on orders from the admin, each through the orders' services:
cancel and refund an order, mark a stopped saga resolved, rebuild the order list;
and the stopped sagas as an operator signal. Each with and without the permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from contexts.kernel.operations import operator_signals
from contexts.orders import saga
from contexts.orders.models import Order, OrderSummary, SagaState
from contexts.payments import public as payments

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.ORDERS_SAGA_RETRY_BASE_SECONDS = 0
    settings.ORDERS_SAGA_COMPENSATION_MAX_ATTEMPTS = 2


@pytest.fixture
def place(auth_client, make_product):
    def place(*, token: str = "tok_ok") -> str:
        response = auth_client.post(
            "/api/orders",
            {
                "items": [{"product_id": make_product()["id"], "quantity": 1}],
                "payment_token": token,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        return response.json()["id"]

    return place


def drive(order_id, *, passes: int = 20) -> SagaState:
    for _ in range(passes):
        saga.saga_advance(order_id=order_id)
        state = SagaState.objects.get(order_id=order_id)
        if state.status != "ACTIVE":
            return state
    return SagaState.objects.get(order_id=order_id)


@pytest.fixture
def staff_with(make_user):
    def make(*codenames: str) -> Client:
        staff = make_user(is_staff=True)
        staff.user_permissions.set(
            Permission.objects.filter(content_type__app_label="orders", codename__in=codenames)
        )
        client = Client()
        client.force_login(staff)
        return client

    return make


@pytest.fixture
def stopped_saga(place, auth_client) -> str:
    """An order cancelled by its customer whose refund the gateway rejects: NEEDS_ATTENTION."""
    order_id = place(token="tok_refund_reject")
    assert drive(order_id).status == "DONE"
    assert auth_client.post(f"/api/orders/{order_id}/cancel").status_code == 200
    assert drive(order_id).status == "NEEDS_ATTENTION"
    return order_id


def test_staff_with_the_change_permission_cancel_and_refund_a_confirmed_order(place, staff_with):
    order_id = place()
    assert drive(order_id).status == "DONE"
    operator = staff_with("view_order", "change_order")
    assert 'value="cancel_and_refund"' in operator.get("/admin/orders/order/").content.decode()

    response = operator.post(
        "/admin/orders/order/", {"action": "cancel_and_refund", "_selected_action": [order_id]}
    )

    assert response.status_code == 302
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason) == ("CANCELLED", "CUSTOMER_CANCELLED")
    drive(order_id)
    assert payments.get_payment_for_order(order_id=order_id).status == "REFUNDED"
    # A second cancel is refused by the service, with its reason shown to staff.
    again = operator.post(
        "/admin/orders/order/",
        {"action": "cancel_and_refund", "_selected_action": [order_id]},
        follow=True,
    )
    assert "already cancelled" in again.content.decode()


def test_staff_who_may_only_view_orders_cannot_cancel_them(place, staff_with):
    order_id = place()
    drive(order_id)
    viewer = staff_with("view_order")
    assert 'value="cancel_and_refund"' not in viewer.get("/admin/orders/order/").content.decode()

    viewer.post(
        "/admin/orders/order/", {"action": "cancel_and_refund", "_selected_action": [order_id]}
    )

    assert Order.objects.get(pk=order_id).status == "CONFIRMED"


def test_a_stopped_saga_is_an_operator_signal_until_staff_mark_it_resolved(
    stopped_saga, staff_with
):
    assert operator_signals().contexts["sagas_needing_attention"] == 1
    viewer = staff_with("view_sagastate")
    page = viewer.get("/admin/operator-signals/").content.decode()
    assert 'data-signal="sagas_needing_attention"' in page
    assert '?status__exact=NEEDS_ATTENTION">1</a>' in page

    viewer.post(
        "/admin/orders/sagastate/", {"action": "mark_resolved", "_selected_action": [stopped_saga]}
    )
    assert SagaState.objects.get(order_id=stopped_saga).status == "NEEDS_ATTENTION"

    operator = staff_with("view_sagastate", "change_sagastate")
    response = operator.post(
        "/admin/orders/sagastate/", {"action": "mark_resolved", "_selected_action": [stopped_saga]}
    )

    assert response.status_code == 302
    state = SagaState.objects.get(order_id=stopped_saga)
    assert (state.status, state.step) == ("DONE", "DONE")
    assert "resolved by staff" in state.last_error and "REFUND_PAYMENT" in state.last_error
    assert saga.saga_advance(order_id=stopped_saga) is False  # nothing runs it any more
    assert payments.get_payment_for_order(order_id=stopped_saga).status == "CAPTURED"
    assert operator_signals().contexts["sagas_needing_attention"] == 0


def test_a_saga_not_waiting_for_staff_is_not_marked_resolved(place, staff_with):
    order_id = place()
    drive(order_id)
    operator = staff_with("view_sagastate", "change_sagastate")

    response = operator.post(
        "/admin/orders/sagastate/",
        {"action": "mark_resolved", "_selected_action": [order_id]},
        follow=True,
    )

    assert "not waiting for staff" in response.content.decode()
    assert "resolved by staff" not in SagaState.objects.get(order_id=order_id).last_error


def test_the_rebuild_button_restores_the_order_list_with_the_permission_only(place, staff_with):
    order_id = place()
    drive(order_id)
    OrderSummary.objects.filter(order_id=order_id).delete()

    viewer = staff_with("view_ordersummary")
    assert (
        "orders/ordersummary/rebuild/"
        not in viewer.get("/admin/orders/ordersummary/").content.decode()
    )
    assert viewer.post("/admin/orders/ordersummary/rebuild/").status_code == 403
    assert not OrderSummary.objects.filter(order_id=order_id).exists()

    operator = staff_with("view_ordersummary", "change_ordersummary")
    assert (
        "orders/ordersummary/rebuild/"
        in operator.get("/admin/orders/ordersummary/").content.decode()
    )
    assert operator.get("/admin/orders/ordersummary/rebuild/").status_code == 405
    response = operator.post("/admin/orders/ordersummary/rebuild/", follow=True)

    assert response.status_code == 200
    assert "Rebuilt 1 order summaries (1 changed)" in response.content.decode()
    assert OrderSummary.objects.get(order_id=order_id).status == "CONFIRMED"
