"""An unknown payment outcome is settled against the gateway, with a real worker.

The saga gives up charging while the gateway's answer is unknown (the last
attempt's reply was lost). Before it cancels, it asks the gateway what the
charge key came to; a capture is refunded, so the customer keeps their money
and is told so.
"""

from __future__ import annotations

from uuid import UUID

import pytest

from contexts.kernel.testing import wait_for
from contexts.payments import public as payments
from contexts.payments.models import SimulatedGatewayOperation
from tests.orders.test_saga_with_worker import WORKER_ENV, final, history_types, stock

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_lost_reply_on_the_only_attempt_is_refunded_and_the_customer_told(
    start_celery_worker, place_order, auth_client, make_product
):
    start_celery_worker(env={**WORKER_ENV, "ORDERS_PAYMENT_MAX_ATTEMPTS": "1"})
    product = make_product(price="7.00", stock=3)

    order_id = place_order(product, quantity=2, token="tok_lost_reply")["id"]
    order = final(auth_client, order_id)

    assert (order["status"], order["cancel_reason"]) == ("CANCELLED", "PAYMENT_FAILED")
    ledger = {
        op.kind: op
        for op in SimulatedGatewayOperation.objects.filter(
            idempotency_key__in=[f"charge:{order_id}", f"refund:{order_id}"]
        )
    }
    # The gateway took the money on the only attempt, and gave it back.
    assert ledger["CHARGE"].outcome == "APPROVED"
    assert "REFUND" in ledger, "the capture was never refunded"
    assert ledger["REFUND"].outcome == "APPROVED"
    assert ledger["REFUND"].charge_reference == ledger["CHARGE"].reference
    assert ledger["REFUND"].amount == ledger["CHARGE"].amount
    assert payments.get_payment_for_order(order_id=UUID(order_id)).status == "REFUNDED"
    assert stock(product) == {"on_hand": 3, "reserved": 0, "available": 3}

    # The customer is told the truth: the money was taken and refunded.
    types = history_types(auth_client, order_id)
    assert types.count("PAYMENT_REFUNDED") == 1
    assert types.index("PAYMENT_REFUNDED") < types.index("ORDER_CANCELLED")

    def cancelled_notification():
        listed = auth_client.get("/api/notifications?kind=ORDER_CANCELLED").json()["results"]
        return next((n for n in listed if n["order_id"] == order_id), None)

    notification = wait_for(cancelled_notification, timeout=30, message="no cancel notification")
    assert "has been refunded" in notification["body"]
    assert "no payment was taken" not in notification["body"].lower()
