"""Charging and refunding an order through the public interface, token by token."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal

import pytest

from contexts.kernel.databases import database_for
from contexts.kernel.models import OutboxMessage
from contexts.payments.contracts import (
    ChargeDeclined,
    PaymentAbandoned,
    PaymentError,
    PaymentGatewayUnavailable,
    PaymentInfo,
)
from contexts.payments.gateway import GatewayTimeout
from contexts.payments.models import GatewayAttempt, Payment, Refund
from contexts.payments.models import SimulatedGatewayOperation as Operation
from contexts.payments.public import charge_for_order, get_payment_for_order, refund_for_order
from contexts.payments.tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

AMOUNT = Decimal("40.00")


@pytest.fixture
def order_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def short_gateway_timeout(settings):
    settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS = 0.05


def charge(order_id: uuid.UUID, token: str = "tok_visa", amount: Decimal = AMOUNT) -> PaymentInfo:
    return charge_for_order(order_id=order_id, amount=amount, currency="USD", payment_token=token)


def events(name: str) -> list[dict]:
    rows = OutboxMessage.objects.using(database_for("payments")).filter(
        event_name=f"payments.{name}"
    )
    return [row.payload for row in rows]


def ledger(kind: str, order_id: uuid.UUID) -> list[Operation]:
    """What the gateway actually did for the order (approved entries only)."""
    return list(
        Operation.objects.filter(idempotency_key=f"{kind.lower()}:{order_id}", outcome="APPROVED")
    )


def outcomes(order_id: uuid.UUID, kind: str = "CHARGE") -> list[str]:
    attempts = GatewayAttempt.objects.filter(payment__order_id=order_id, kind=kind)
    return [attempt.outcome for attempt in attempts]


# --- charge ---------------------------------------------------------------


def test_an_approved_token_captures_the_payment(order_id):
    info = charge(order_id)

    payment = Payment.objects.get(order_id=order_id)
    [made] = ledger("CHARGE", order_id)
    assert info == PaymentInfo(
        payment_id=payment.id, order_id=order_id, status="CAPTURED", amount=AMOUNT, currency="USD"
    )
    assert payment.gateway_reference == made.reference
    assert payment.attempts == 1
    assert outcomes(order_id) == ["APPROVED"]
    assert events("PaymentCaptured") == [
        {
            "payment_id": str(payment.id),
            "order_id": str(order_id),
            "amount": "40.00",
            "currency": "USD",
        }
    ]


def test_a_captured_order_is_returned_without_calling_the_gateway(order_id):
    first = charge(order_id)

    again = charge(order_id)

    assert again == first
    assert outcomes(order_id) == ["APPROVED"]
    assert Operation.objects.get(idempotency_key=f"charge:{order_id}").calls == 1
    assert len(events("PaymentCaptured")) == 1


def test_the_gateway_is_sent_the_order_key_and_the_attempt_is_recorded(order_id):
    charge(order_id)

    [attempt] = GatewayAttempt.objects.filter(payment__order_id=order_id)
    assert attempt.idempotency_key == f"charge:{order_id}"
    assert attempt.gateway_reference == Payment.objects.get(order_id=order_id).gateway_reference
    assert attempt.refund is None


@pytest.mark.parametrize("token", ["tok_decline", "tok_decline_stolen_card"])
def test_a_declined_token_declines_the_payment_for_good(order_id, token):
    with pytest.raises(ChargeDeclined) as raised:
        charge(order_id, token)
    assert not isinstance(raised.value, PaymentAbandoned)

    with pytest.raises(ChargeDeclined):
        charge(order_id, token)

    payment = Payment.objects.get(order_id=order_id)
    assert (payment.status, payment.decline_reason) == ("DECLINED", "card_declined")
    assert outcomes(order_id) == ["DECLINED"]  # the second call did not reach the gateway
    assert events("PaymentDeclined") == [
        {"payment_id": str(payment.id), "order_id": str(order_id), "reason": "card_declined"}
    ]
    assert events("PaymentCaptured") == []


def test_an_empty_token_is_declined(order_id):
    with pytest.raises(ChargeDeclined):
        charge(order_id, "")

    assert get_payment_for_order(order_id=order_id).status == "DECLINED"


@pytest.mark.parametrize("token", ["tok_fail", "tok_fail_always"])
def test_a_failing_gateway_is_unavailable_on_every_attempt(order_id, token):
    for _ in range(3):
        with pytest.raises(PaymentGatewayUnavailable):
            charge(order_id, token)

    payment = Payment.objects.get(order_id=order_id)
    assert (payment.status, payment.attempts) == ("PENDING", 3)
    assert "simulated gateway error" in payment.last_error
    assert outcomes(order_id) == ["ERROR", "ERROR", "ERROR"]
    assert ledger("CHARGE", order_id) == []
    assert events("PaymentCaptured") == events("PaymentDeclined") == []


def test_tok_fail_once_is_charged_exactly_once_across_two_calls(order_id):
    with pytest.raises(PaymentGatewayUnavailable):
        charge(order_id, "tok_fail_once")

    info = charge(order_id, "tok_fail_once")

    assert info.status == "CAPTURED"
    assert len(ledger("CHARGE", order_id)) == 1
    assert outcomes(order_id) == ["ERROR", "APPROVED"]
    assert len(events("PaymentCaptured")) == 1


def test_a_lost_reply_is_recovered_by_the_retry_without_a_second_charge(order_id):
    """The gateway charged, then its reply was lost."""
    with pytest.raises(PaymentGatewayUnavailable) as raised:
        charge(order_id, "tok_lost_reply")
    assert isinstance(raised.value.__cause__, GatewayTimeout)
    assert get_payment_for_order(order_id=order_id).status == "PENDING"
    [made] = ledger("CHARGE", order_id)

    info = charge(order_id, "tok_lost_reply")

    assert info.status == "CAPTURED"
    assert ledger("CHARGE", order_id) == [made]
    assert Payment.objects.get(order_id=order_id).gateway_reference == made.reference
    assert outcomes(order_id) == ["TIMEOUT", "APPROVED"]


def test_a_hanging_gateway_times_out_as_unavailable(order_id, short_gateway_timeout):
    """The gateway never answers; the call gives up after the timeout."""
    with pytest.raises(PaymentGatewayUnavailable) as raised:
        charge(order_id, "tok_hang")

    assert isinstance(raised.value.__cause__, GatewayTimeout)
    assert outcomes(order_id) == ["TIMEOUT"]
    assert get_payment_for_order(order_id=order_id).status == "PENDING"
    assert ledger("CHARGE", order_id) == []


def test_a_gateway_that_hangs_once_is_charged_on_the_retry(order_id, short_gateway_timeout):
    with pytest.raises(PaymentGatewayUnavailable):
        charge(order_id, "tok_hang_once")

    assert charge(order_id, "tok_hang_once").status == "CAPTURED"
    assert len(ledger("CHARGE", order_id)) == 1


def test_a_pending_payment_given_up_is_voided_and_never_charged_later(
    order_id, short_gateway_timeout
):
    """After the last retry the saga compensates; a late charge request is refused."""
    with pytest.raises(PaymentGatewayUnavailable):
        charge(order_id, "tok_hang")

    assert refund_for_order(order_id=order_id) is None
    assert get_payment_for_order(order_id=order_id).status == "FAILED"

    with pytest.raises(PaymentAbandoned):
        charge(order_id, "tok_hang")
    assert outcomes(order_id) == ["TIMEOUT"]
    assert ledger("CHARGE", order_id) == []


def test_a_capture_landing_after_the_order_gave_up_is_refunded(order_id, settings):
    """The compensation ran while the charge request was in flight."""
    settings.PAYMENT_GATEWAY = "contexts.payments.tests.gateways.AbandonedWhileChargingGateway"

    with pytest.raises(PaymentAbandoned):
        charge(order_id)

    assert get_payment_for_order(order_id=order_id).status == "REFUNDED"
    assert len(ledger("CHARGE", order_id)) == 1
    assert len(ledger("REFUND", order_id)) == 1
    assert len(events("PaymentCaptured")) == len(events("PaymentRefunded")) == 1


def test_a_capture_recorded_meanwhile_by_another_call_is_returned_once(order_id, settings):
    settings.PAYMENT_GATEWAY = "contexts.payments.tests.gateways.ChargedMeanwhileGateway"

    info = charge(order_id)

    payment = Payment.objects.get(order_id=order_id)
    assert (info.status, info.payment_id) == ("CAPTURED", payment.id)
    assert (payment.attempts, outcomes(order_id)) == (2, ["APPROVED", "APPROVED"])
    assert len(ledger("CHARGE", order_id)) == 1
    assert len(events("PaymentCaptured")) == 1


def test_a_second_request_with_another_amount_is_refused(order_id):
    charge(order_id)

    with pytest.raises(PaymentError, match="already charged"):
        charge(order_id, amount=Decimal("41.00"))

    assert len(ledger("CHARGE", order_id)) == 1


@pytest.mark.parametrize(
    "amount", [Decimal("0"), Decimal("-5.00"), Decimal("1.001"), Decimal("NaN"), 1.5, "abc", None]
)
def test_invalid_amounts_are_refused_before_anything_is_stored(order_id, amount):
    with pytest.raises(PaymentError) as raised:
        charge(order_id, amount=amount)

    assert raised.value.field == "amount"
    assert not Payment.objects.exists()


@pytest.mark.parametrize("currency", ["usd", "US", "EURO", "", None])
def test_invalid_currencies_are_refused(order_id, currency):
    with pytest.raises(PaymentError) as raised:
        charge_for_order(
            order_id=order_id, amount=AMOUNT, currency=currency, payment_token="tok_visa"
        )

    assert raised.value.field == "currency"
    assert not Payment.objects.exists()


def test_an_adapter_bug_is_recorded_and_not_disguised(order_id, settings):
    settings.PAYMENT_GATEWAY = "contexts.payments.tests.gateways.BrokenAdapter"

    with pytest.raises(RuntimeError, match="adapter bug"):
        charge(order_id)

    [attempt] = GatewayAttempt.objects.filter(payment__order_id=order_id)
    assert (attempt.outcome, attempt.error) == ("ERROR", "RuntimeError: adapter bug")
    assert get_payment_for_order(order_id=order_id).status == "PENDING"


# --- refund -------------------------------------------------------------


def test_a_captured_payment_is_refunded_once(order_id):
    captured = charge(order_id)

    refunded = refund_for_order(order_id=order_id)
    again = refund_for_order(order_id=order_id)

    assert refunded == again == dataclasses.replace(captured, status="REFUNDED")
    refund = Refund.objects.get(payment__order_id=order_id)
    [made] = ledger("REFUND", order_id)
    assert (refund.status, refund.amount, refund.gateway_reference) == (
        "SUCCEEDED",
        AMOUNT,
        made.reference,
    )
    assert made.charge_reference == Payment.objects.get(order_id=order_id).gateway_reference
    assert outcomes(order_id, "REFUND") == ["APPROVED"]
    assert events("PaymentRefunded") == [
        {
            "payment_id": str(captured.payment_id),
            "order_id": str(order_id),
            "amount": "40.00",
            "currency": "USD",
        }
    ]


def test_a_refund_failing_three_times_then_succeeding_refunds_once(order_id):
    """The compensation fails 3 times, is retried until done, then delivered again."""
    charge(order_id, "tok_refund_fail_3")

    for _ in range(3):
        with pytest.raises(PaymentGatewayUnavailable):
            refund_for_order(order_id=order_id)
        assert get_payment_for_order(order_id=order_id).status == "CAPTURED"

    assert refund_for_order(order_id=order_id).status == "REFUNDED"
    assert refund_for_order(order_id=order_id).status == "REFUNDED"

    assert len(ledger("REFUND", order_id)) == 1
    assert outcomes(order_id, "REFUND") == ["ERROR", "ERROR", "ERROR", "APPROVED"]
    refund = Refund.objects.get(payment__order_id=order_id)
    assert (refund.status, refund.attempts) == ("SUCCEEDED", 4)
    assert len(events("PaymentRefunded")) == 1


def test_nothing_to_refund_without_a_payment(order_id):
    assert refund_for_order(order_id=order_id) is None
    assert not Payment.objects.exists()


def test_nothing_to_refund_for_a_declined_payment(order_id):
    with pytest.raises(ChargeDeclined):
        charge(order_id, "tok_decline")

    assert refund_for_order(order_id=order_id) is None
    assert get_payment_for_order(order_id=order_id).status == "DECLINED"
    assert outcomes(order_id, "REFUND") == []


def test_a_refunded_order_is_not_charged_again(order_id):
    charge(order_id)
    refund_for_order(order_id=order_id)

    with pytest.raises(PaymentAbandoned):
        charge(order_id)

    assert outcomes(order_id) == ["APPROVED"]
    assert len(ledger("CHARGE", order_id)) == 1


def test_a_refund_the_gateway_refuses_is_an_error_not_a_retry():
    payment = PaymentFactory(captured=True)  # a charge the gateway never made

    with pytest.raises(PaymentError) as raised:
        refund_for_order(order_id=payment.order_id)

    assert not isinstance(raised.value, PaymentGatewayUnavailable)
    refund = Refund.objects.get(payment=payment)
    assert (refund.status, refund.reason) == ("REJECTED", "unknown_charge")
    assert get_payment_for_order(order_id=payment.order_id).status == "CAPTURED"
    assert events("PaymentRefunded") == []


# --- read -----------------------------------------------------------------


def test_get_payment_for_order(order_id):
    payment = PaymentFactory(order_id=order_id, amount=Decimal("9.99"), currency="EUR")

    assert get_payment_for_order(order_id=order_id) == PaymentInfo(
        payment_id=payment.id,
        order_id=order_id,
        status="PENDING",
        amount=Decimal("9.99"),
        currency="EUR",
    )
    assert get_payment_for_order(order_id=uuid.uuid4()) is None
