"""Unknown outcomes are settled against the gateway; money owed is refunded durably.

The saga may give a payment up while the gateway's answer is unknown (a lost
reply, a timeout). ``refund_for_order`` asks the gateway what the charge key
came to before voiding; what it cannot settle at once, the reconciliation job
(``payments.reconcile_payments``) settles later.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from contexts.payments.contracts import PaymentGatewayUnavailable, PaymentRefundRejected
from contexts.payments.models import GatewayAttempt, Payment, Refund
from contexts.payments.models import SimulatedGatewayOperation as Operation
from contexts.payments.public import (
    charge_for_order,
    get_payment_for_order,
    refund_for_order,
    resubmit_rejected_refund,
)
from contexts.payments.services import payments_reconcile
from contexts.payments.tasks import reconcile_payments

pytestmark = pytest.mark.django_db

AMOUNT = Decimal("25.00")
TEST_GATEWAYS = "contexts.payments.tests.gateways"


@pytest.fixture
def order_id() -> uuid.UUID:
    return uuid.uuid4()


def charge(order_id, token):
    return charge_for_order(order_id=order_id, amount=AMOUNT, currency="USD", payment_token=token)


def approved(kind: str, order_id) -> list[Operation]:
    return list(
        Operation.objects.filter(
            kind=kind, idempotency_key__startswith=f"{kind.lower()}:{order_id}", outcome="APPROVED"
        )
    )


def test_a_lost_reply_given_up_is_found_at_the_gateway_and_refunded(order_id):
    with pytest.raises(PaymentGatewayUnavailable):
        charge(order_id, "tok_lost_reply")  # the gateway charged; we never heard

    refunded = refund_for_order(order_id=order_id)

    assert refunded is not None and refunded.status == "REFUNDED"
    assert len(approved("CHARGE", order_id)) == len(approved("REFUND", order_id)) == 1
    kinds = list(
        GatewayAttempt.objects.filter(payment__order_id=order_id).values_list("kind", "outcome")
    )
    assert kinds == [("CHARGE", "TIMEOUT"), ("LOOKUP", "APPROVED"), ("REFUND", "APPROVED")]


def test_nothing_captured_is_confirmed_and_voided(order_id, settings):
    settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS = 0.01
    with pytest.raises(PaymentGatewayUnavailable):
        charge(order_id, "tok_hang")

    assert refund_for_order(order_id=order_id) is None

    payment = Payment.objects.get(order_id=order_id)
    assert payment.status == "FAILED"
    assert payment.void_confirmed_at is not None
    assert payments_reconcile() == 0


def test_a_void_the_gateway_cannot_confirm_is_settled_by_the_reconciliation(order_id, settings):
    with pytest.raises(PaymentGatewayUnavailable):
        charge(order_id, "tok_lost_reply")
    settings.PAYMENT_GATEWAY = f"{TEST_GATEWAYS}.UnreachableLookupGateway"

    with pytest.raises(PaymentGatewayUnavailable):
        refund_for_order(order_id=order_id)  # voided, but whether money moved is unknown

    payment = Payment.objects.get(order_id=order_id)
    assert (payment.status, payment.void_confirmed_at) == ("FAILED", None)
    settings.PAYMENT_GATEWAY = "contexts.payments.simulated_gateway.SimulatedGateway"
    settings.PAYMENTS_RECONCILE_AFTER_SECONDS = 3600
    assert payments_reconcile() == 0  # not yet: the saga gets its time first

    settings.PAYMENTS_RECONCILE_AFTER_SECONDS = 0
    assert reconcile_payments() == 1

    assert get_payment_for_order(order_id=order_id).status == "REFUNDED"
    assert len(approved("REFUND", order_id)) == 1
    assert payments_reconcile() == 0


def test_a_late_capture_whose_inline_refund_failed_is_refunded_by_the_reconciliation(
    order_id, settings
):
    """A charge lands after the order gave up (its runner had lost the saga's lease) and
    the immediate refund fails: the capture stays owed, and is refunded later."""
    settings.PAYMENT_GATEWAY = f"{TEST_GATEWAYS}.AbandonedWhileChargingGateway"
    with pytest.raises(PaymentGatewayUnavailable):
        charge(order_id, "tok_refund_fail_1")

    payment = Payment.objects.get(order_id=order_id)
    assert payment.status == "CAPTURED" and payment.abandoned_at is not None
    settings.PAYMENT_GATEWAY = "contexts.payments.simulated_gateway.SimulatedGateway"
    settings.PAYMENTS_RECONCILE_AFTER_SECONDS = 0

    assert payments_reconcile() == 1

    assert get_payment_for_order(order_id=order_id).status == "REFUNDED"
    assert len(approved("CHARGE", order_id)) == len(approved("REFUND", order_id)) == 1


def test_a_charge_pending_beyond_the_window_is_settled(order_id, settings):
    with pytest.raises(PaymentGatewayUnavailable):
        charge(order_id, "tok_lost_reply")
    settings.PAYMENTS_RECONCILE_AFTER_SECONDS = 0

    assert payments_reconcile() == 1

    # The order never gave it up: the capture is recorded, not refunded.
    assert get_payment_for_order(order_id=order_id).status == "CAPTURED"
    assert approved("REFUND", order_id) == []
    assert charge(order_id, "tok_lost_reply").status == "CAPTURED"
    assert len(approved("CHARGE", order_id)) == 1


def test_a_rejected_refund_is_final_until_staff_resubmit_it(order_id, settings):
    charge(order_id, "tok_refund_reject")

    with pytest.raises(PaymentRefundRejected):
        refund_for_order(order_id=order_id)
    with pytest.raises(PaymentRefundRejected):
        refund_for_order(order_id=order_id)

    # The second call did not ask the gateway again; the job leaves it to staff.
    assert GatewayAttempt.objects.filter(kind="REFUND").count() == 1
    settings.PAYMENTS_RECONCILE_AFTER_SECONDS = 0
    assert payments_reconcile() == 0
    assert Refund.objects.get(payment__order_id=order_id).status == "REJECTED"

    settings.PAYMENT_GATEWAY = f"{TEST_GATEWAYS}.RefundAcceptingGateway"
    assert resubmit_rejected_refund(order_id=order_id) is True
    assert refund_for_order(order_id=order_id).status == "REFUNDED"
    assert resubmit_rejected_refund(order_id=order_id) is False
    (made,) = approved("REFUND", order_id)
    assert made.idempotency_key == f"refund:{order_id}:1"  # a new request, a new key


def test_the_reconciliation_runs_on_beat():
    entry = django_settings.CELERY_BEAT_SCHEDULE["payments.reconcile_payments"]

    assert entry["task"] == reconcile_payments.name == "payments.reconcile_payments"
    assert entry["schedule"] == django_settings.PAYMENTS_RECONCILE_INTERVAL_SECONDS
