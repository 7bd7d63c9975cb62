"""The orders' admin: every model browsable by staff, nothing editable."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from contexts.orders.models import Order, OrderHistoryEntry, SagaState

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_():
    admin = get_user_model().objects.create_superuser(
        email="orders-admin@example.com", password=None, name="Admin"
    )
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def order_id(place_order, make_product, run_saga):
    order_id = place_order(make_product())["id"]
    run_saga(order_id)
    return order_id


@pytest.mark.parametrize(
    "model", ["order", "orderhistoryentry", "sagastate", "ordersummary", "idempotencyrecord"]
)
def test_every_changelist_renders(admin_client_, order_id, model):
    response = admin_client_.get(f"/admin/orders/{model}/")

    assert response.status_code == 200


def test_an_order_shows_items_saga_and_history_read_only(admin_client_, order_id):
    response = admin_client_.get(f"/admin/orders/order/{order_id}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "ORDER_CONFIRMED" in page
    assert "tok_ok" not in page  # the payment token is not shown
    assert 'name="_save"' not in page


def test_nothing_can_be_added_changed_or_deleted(admin_client_, order_id):
    entry = OrderHistoryEntry.objects.filter(order_id=order_id).first()

    assert admin_client_.get("/admin/orders/order/add/").status_code == 403
    assert admin_client_.post(f"/admin/orders/order/{order_id}/delete/").status_code == 403
    assert (
        admin_client_.get(f"/admin/orders/orderhistoryentry/{entry.pk}/delete/").status_code == 403
    )
    assert (
        admin_client_.post(
            f"/admin/orders/sagastate/{order_id}/change/", {"step": "RESERVE_STOCK"}
        ).status_code
        == 403
    )
    assert Order.objects.filter(pk=order_id).exists()
    assert SagaState.objects.get(order_id=order_id).step == "DONE"


def test_the_admin_history_keeps_the_raw_gateway_error(
    admin_client_, auth_client, place_order, make_product, run_saga, settings
):
    """The API shows reasons only; the detail behind them stays visible to staff here."""
    settings.ORDERS_PAYMENT_MAX_ATTEMPTS = 1
    order_id = place_order(make_product(), token="tok_fail")["id"]
    run_saga(order_id)

    page = admin_client_.get(f"/admin/orders/order/{order_id}/change/").content.decode()

    assert "simulated gateway error" in page
    api = auth_client.get(f"/api/orders/{order_id}/history").content.decode()
    assert "simulated gateway error" not in api
