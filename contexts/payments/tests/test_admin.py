"""The admin shows payments, refunds and gateway calls, and changes none of them."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from contexts.payments.models import GatewayAttempt, Payment, Refund, SimulatedGatewayOperation
from contexts.payments.public import charge_for_order, refund_for_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunded_payment() -> Payment:
    order_id = uuid.uuid4()
    charge_for_order(
        order_id=order_id, amount=Decimal("5.00"), currency="USD", payment_token="tok_visa"
    )
    refund_for_order(order_id=order_id)
    return Payment.objects.get(order_id=order_id)


@pytest.mark.parametrize("model", [Payment, Refund, GatewayAttempt, SimulatedGatewayOperation])
def test_every_table_is_listed(admin_client, refunded_payment, model):
    url = reverse(f"admin:payments_{model._meta.model_name}_changelist")

    response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


def test_a_payment_shows_its_refund_and_attempts_read_only(admin_client, refunded_payment):
    url = reverse("admin:payments_payment_change", args=[refunded_payment.pk])

    response = admin_client.get(url)

    assert response.status_code == 200
    assert refunded_payment.gateway_reference in response.content.decode()
    assert f"refund:{refunded_payment.order_id}" in response.content.decode()
    assert admin_client.post(url, {"status": "PENDING"}).status_code == 403
    assert Payment.objects.get(pk=refunded_payment.pk).status == "REFUNDED"


def test_nothing_can_be_added(admin_client):
    assert admin_client.get(reverse("admin:payments_payment_add")).status_code == 403
