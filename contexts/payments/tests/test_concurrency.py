"""Concurrent calls for one order, in threads, against real PostgreSQL (committed data)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connections

from contexts.kernel.databases import database_for
from contexts.kernel.models import OutboxMessage
from contexts.payments.contracts import PaymentGatewayUnavailable
from contexts.payments.models import Payment, Refund
from contexts.payments.models import SimulatedGatewayOperation as Operation
from contexts.payments.public import charge_for_order, refund_for_order
from contexts.payments.tests.gateways import TransactionProbeGateway

pytestmark = pytest.mark.django_db(transaction=True)

CALLERS = 5
AMOUNT = Decimal("19.90")


def run_together(call: Callable[[], object], callers: int = CALLERS):
    """Run ``call`` in ``callers`` threads released at once; (results, errors)."""
    barrier = threading.Barrier(callers)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def caller() -> None:
        try:
            barrier.wait(timeout=30)
            outcome = call()
            with lock:
                results.append(outcome)
        except Exception as error:
            with lock:
                errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def charge(order_id: uuid.UUID, token: str = "tok_visa"):
    return charge_for_order(order_id=order_id, amount=AMOUNT, currency="USD", payment_token=token)


def published(name: str) -> int:
    return (
        OutboxMessage.objects.using(database_for("payments"))
        .filter(event_name=f"payments.{name}")
        .count()
    )


def test_concurrent_charges_of_one_order_charge_once():
    order_id = uuid.uuid4()

    results, errors = run_together(lambda: charge(order_id))

    assert errors == []
    assert len(results) == CALLERS
    assert {(r.payment_id, r.status) for r in results} == {
        (Payment.objects.get(order_id=order_id).id, "CAPTURED")
    }
    assert Operation.objects.filter(kind="CHARGE", outcome="APPROVED").count() == 1
    assert Payment.objects.count() == 1
    assert published("PaymentCaptured") == 1


def test_concurrent_retries_of_a_flaky_gateway_charge_at_most_once():
    order_id = uuid.uuid4()

    results, errors = run_together(lambda: charge(order_id, "tok_fail_once"))

    assert all(isinstance(error, PaymentGatewayUnavailable) for error in errors)
    assert len(errors) <= 1  # only the key's first request fails
    assert {r.status for r in results} <= {"CAPTURED"}
    assert charge(order_id, "tok_fail_once").status == "CAPTURED"
    assert Operation.objects.filter(kind="CHARGE", outcome="APPROVED").count() == 1
    assert published("PaymentCaptured") == 1


def test_concurrent_refunds_of_one_order_refund_once():
    order_id = uuid.uuid4()
    charge(order_id)

    results, errors = run_together(lambda: refund_for_order(order_id=order_id))

    assert errors == []
    assert {r.status for r in results} == {"REFUNDED"}
    assert Operation.objects.filter(kind="REFUND", outcome="APPROVED").count() == 1
    assert Refund.objects.get(payment__order_id=order_id).status == "SUCCEEDED"
    assert published("PaymentRefunded") == 1


def test_the_gateway_is_called_outside_any_transaction(settings):
    settings.PAYMENT_GATEWAY = "contexts.payments.tests.gateways.TransactionProbeGateway"
    TransactionProbeGateway.in_transaction_when_called.clear()
    order_id = uuid.uuid4()

    charge(order_id)
    refund_for_order(order_id=order_id)

    assert TransactionProbeGateway.in_transaction_when_called == [False, False]
