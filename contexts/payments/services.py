"""Write use-cases of the payments context: charging and refunding an order.

Each use-case runs in three steps, because the gateway is a remote system
that must never be called inside a database transaction:

1. in a transaction: lock (or create) the order's payment row and decide
   whether the gateway has to be called at all;
2. outside any transaction: call the gateway with an idempotency key derived
   from the order id, so a retry after a crash or a lost reply is deduplicated
   by the gateway instead of charging twice;
3. in a transaction: record the attempt, apply the outcome with a conditional
   state change, and publish the event in the same transaction.

Two concurrent calls for one order may both reach step 2, but with the same
key: the gateway makes one charge, and step 3 applies it once.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NoReturn
from uuid import UUID

from django.utils import timezone

from contexts.kernel.outbox import publish
from contexts.kernel.transactions import atomic
from contexts.payments import events
from contexts.payments.gateway import (
    GatewayError,
    GatewayResult,
    GatewayTimeout,
    PaymentGateway,
    get_gateway,
)
from contexts.payments.models import GatewayAttempt, Payment, Refund
from contexts.payments.public import (
    PaymentAbandoned,
    PaymentDeclined,
    PaymentError,
    PaymentGatewayUnavailable,
    PaymentInfo,
)
from contexts.payments.selectors import payment_info

logger = logging.getLogger(__name__)

CONTEXT = "payments"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CENT = Decimal("0.01")
_MAX_AMOUNT = Decimal("9999999999.99")  # Decimal(12, 2)
_ERROR_LENGTH = 500


def charge_key(order_id: UUID) -> str:
    """The gateway idempotency key of the order's charge."""
    return f"charge:{order_id}"


def refund_key(order_id: UUID) -> str:
    """The gateway idempotency key of the order's refund."""
    return f"refund:{order_id}"


def payment_charge(
    *, order_id: UUID, amount: Decimal, currency: str, payment_token: str
) -> PaymentInfo:
    """Charge the order once; see ``public.charge_for_order`` for the contract."""
    amount = _valid_amount(amount)
    currency = _valid_currency(currency)
    if not isinstance(payment_token, str):
        raise PaymentError("The payment token must be a string.", field="payment_token")

    with atomic(CONTEXT):
        payment = _lock_or_create_payment(order_id=order_id, amount=amount, currency=currency)
        if (payment.amount, payment.currency) != (amount, currency):
            raise PaymentError(
                f"Order {order_id} was already charged {payment.amount} {payment.currency}."
            )
        if payment.status == Payment.Status.DECLINED:
            raise PaymentDeclined(f"Payment declined: {payment.decline_reason}.")
        if payment.status in (Payment.Status.FAILED, Payment.Status.REFUNDED):
            raise PaymentAbandoned(f"The payment of order {order_id} was given up.")
        if payment.status == Payment.Status.CAPTURED:
            if payment.abandoned_at is None:
                return payment_info(payment)
            captured_after_abandonment = True
        else:
            captured_after_abandonment = False
            payment.attempts += 1
            payment.save(update_fields=["attempts", "updated_at"])

    if captured_after_abandonment:
        _give_back_late_capture(order_id)

    key = charge_key(order_id)
    call = _call_gateway(
        lambda gateway: gateway.charge(
            idempotency_key=key, amount=amount, currency=currency, token=payment_token
        )
    )

    with atomic(CONTEXT):
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        _record_attempt(call, payment=payment, kind=GatewayAttempt.Kind.CHARGE, key=key)
        result = call.result
        if result is None:
            if payment.status == Payment.Status.PENDING:
                payment.last_error = call.error_text
                payment.save(update_fields=["last_error", "updated_at"])
        elif result.approved:
            # FAILED too: the order gave up while this call was in flight, but
            # the money was taken, so it is recorded (and given back below).
            if payment.status in (Payment.Status.PENDING, Payment.Status.FAILED):
                _capture(payment, reference=result.reference)
        elif payment.status == Payment.Status.PENDING:
            _decline(payment, reason=result.reason)

    call.raise_unavailable()
    if not result.approved:
        raise PaymentDeclined(f"Payment declined: {result.reason}.")
    if payment.abandoned_at is not None:
        _give_back_late_capture(order_id)
    return payment_info(payment)


def payment_refund(*, order_id: UUID) -> PaymentInfo | None:
    """Refund the order's payment once; see ``public.refund_for_order`` for the contract."""
    with atomic(CONTEXT):
        payment = Payment.objects.select_for_update().filter(order_id=order_id).first()
        if payment is None:
            return None
        if payment.abandoned_at is None:
            payment.abandoned_at = timezone.now()
            payment.save(update_fields=["abandoned_at", "updated_at"])
        if payment.status == Payment.Status.REFUNDED:
            return payment_info(payment)
        if payment.status == Payment.Status.PENDING:
            # Void it: a charge request still in flight or arriving late must
            # not capture for an order that gave up (see payment_charge).
            payment.status = Payment.Status.FAILED
            payment.save(update_fields=["status", "updated_at"])
            return None
        if payment.status != Payment.Status.CAPTURED:
            return None
        refund = Refund.objects.select_for_update().filter(payment=payment).first()
        if refund is None:
            refund = Refund.objects.create(
                payment=payment, amount=payment.amount, currency=payment.currency
            )
        refund.attempts += 1
        refund.save(update_fields=["attempts", "updated_at"])

    key = refund_key(order_id)
    call = _call_gateway(
        lambda gateway: gateway.refund(
            idempotency_key=key,
            charge_reference=payment.gateway_reference,
            amount=refund.amount,
            currency=refund.currency,
        )
    )

    with atomic(CONTEXT):
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        _record_attempt(
            call, payment=payment, refund=refund, kind=GatewayAttempt.Kind.REFUND, key=key
        )
        result = call.result
        if result is None:
            if refund.status == Refund.Status.PENDING:
                refund.last_error = call.error_text
                refund.save(update_fields=["last_error", "updated_at"])
        elif result.approved:
            if refund.status != Refund.Status.SUCCEEDED:
                _complete_refund(payment, refund, reference=result.reference)
        elif refund.status == Refund.Status.PENDING:
            refund.status = Refund.Status.REJECTED
            refund.reason = result.reason
            refund.save(update_fields=["status", "reason", "updated_at"])

    call.raise_unavailable()
    if not result.approved:
        logger.error("gateway refused the refund of order %s: %s", order_id, result.reason)
        raise PaymentError(f"The gateway refused the refund: {result.reason}.")
    return payment_info(payment)


# --- steps ----------------------------------------------------------------


def _lock_or_create_payment(*, order_id: UUID, amount: Decimal, currency: str) -> Payment:
    """The order's payment row, locked; created PENDING if there is none yet."""
    # INSERT … ON CONFLICT DO NOTHING first (an order is usually charged once):
    # a concurrent first charge inserts the same row, and both lock the winner.
    Payment.objects.bulk_create(
        [Payment(order_id=order_id, amount=amount, currency=currency)], ignore_conflicts=True
    )
    return Payment.objects.select_for_update().get(order_id=order_id)


def _capture(payment: Payment, *, reference: str) -> None:
    payment.status = Payment.Status.CAPTURED
    payment.gateway_reference = reference
    payment.captured_at = timezone.now()
    payment.last_error = ""
    payment.save(
        update_fields=["status", "gateway_reference", "captured_at", "last_error", "updated_at"]
    )
    publish(
        events.PaymentCaptured(
            payment_id=payment.id,
            order_id=payment.order_id,
            amount=payment.amount,
            currency=payment.currency,
        )
    )


def _decline(payment: Payment, *, reason: str) -> None:
    payment.status = Payment.Status.DECLINED
    payment.decline_reason = reason
    payment.save(update_fields=["status", "decline_reason", "updated_at"])
    publish(events.PaymentDeclined(payment_id=payment.id, order_id=payment.order_id, reason=reason))


def _complete_refund(payment: Payment, refund: Refund, *, reference: str) -> None:
    refund.status = Refund.Status.SUCCEEDED
    refund.gateway_reference = reference
    refund.last_error = ""
    refund.save(update_fields=["status", "gateway_reference", "last_error", "updated_at"])
    payment.status = Payment.Status.REFUNDED
    payment.refunded_at = timezone.now()
    payment.save(update_fields=["status", "refunded_at", "updated_at"])
    publish(
        events.PaymentRefunded(
            payment_id=payment.id,
            order_id=payment.order_id,
            amount=refund.amount,
            currency=refund.currency,
        )
    )


def _give_back_late_capture(order_id: UUID) -> NoReturn:
    """A capture landed after the order gave the payment up: refund it, then say so.

    A transient refund failure surfaces as PaymentGatewayUnavailable, so the
    caller retries and the next call refunds again (same key, one refund).
    """
    logger.warning("order %s was captured after giving up its payment; refunding", order_id)
    payment_refund(order_id=order_id)
    raise PaymentAbandoned(f"The payment of order {order_id} was given up and refunded.")


# --- the gateway call ------------------------------------------------------


@dataclass(frozen=True)
class _GatewayCall:
    """What one gateway call came to: a definitive result, or the error instead."""

    result: GatewayResult | None
    error: Exception | None
    duration_ms: int

    @property
    def outcome(self) -> str:
        if self.result is not None:
            return (
                GatewayAttempt.Outcome.APPROVED
                if self.result.approved
                else GatewayAttempt.Outcome.DECLINED
            )
        if isinstance(self.error, GatewayTimeout):
            return GatewayAttempt.Outcome.TIMEOUT
        return GatewayAttempt.Outcome.ERROR

    @property
    def error_text(self) -> str:
        if self.error is None:
            return ""
        return f"{type(self.error).__name__}: {self.error}"[:_ERROR_LENGTH]

    def raise_unavailable(self) -> None:
        """Re-raise a failed call: a gateway error as PaymentGatewayUnavailable."""
        if self.error is None:
            return
        if isinstance(self.error, GatewayError):
            raise PaymentGatewayUnavailable(
                f"The payment gateway is unavailable ({self.error_text})."
            ) from self.error
        # Not a gateway error: a bug in the adapter. It is recorded, not hidden.
        raise self.error


def _call_gateway(request: Callable[[PaymentGateway], GatewayResult]) -> _GatewayCall:
    """Call the configured gateway and time it; every failure is captured, not raised."""
    started = time.monotonic()
    try:
        result = request(get_gateway())
    except Exception as error:
        call = _GatewayCall(result=None, error=error, duration_ms=_elapsed_ms(started))
        logger.warning("payment gateway call failed: %s", call.error_text)
        return call
    return _GatewayCall(result=result, error=None, duration_ms=_elapsed_ms(started))


def _record_attempt(
    call: _GatewayCall,
    *,
    payment: Payment,
    kind: str,
    key: str,
    refund: Refund | None = None,
) -> None:
    GatewayAttempt.objects.create(
        payment=payment,
        refund=refund,
        kind=kind,
        idempotency_key=key,
        outcome=call.outcome,
        gateway_reference=call.result.reference if call.result is not None else "",
        error=call.error_text or (call.result.reason if call.result is not None else ""),
        duration_ms=call.duration_ms,
    )


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))


# --- input checks ----------------------------------------------------------


def _valid_amount(amount: Decimal) -> Decimal:
    try:
        value = Decimal(amount) if not isinstance(amount, float | bool) else None
    except (InvalidOperation, TypeError, ValueError):
        value = None
    if value is None or not value.is_finite():
        raise PaymentError("The amount must be a decimal number.", field="amount")
    if value <= 0 or value > _MAX_AMOUNT:
        raise PaymentError("The amount must be positive and below 10^10.", field="amount")
    if value != value.quantize(_CENT):
        raise PaymentError("The amount has more than two decimal places.", field="amount")
    return value.quantize(_CENT)


def _valid_currency(currency: str) -> str:
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise PaymentError("The currency must be a three-letter ISO 4217 code.", field="currency")
    return currency
