"""Write use-cases of the payments context: charging and refunding an order.

Each use-case runs in three steps, because the gateway is a remote system
that must never be called inside a database transaction:

1. lock (or create) the order's payment row and decide whether the gateway
   has to be called at all;
2. outside any transaction: call the gateway with an idempotency key derived
   from the order id, so a retry after a crash or a lost reply is deduplicated
   by the gateway instead of charging twice;
3. in a transaction: apply the outcome with a conditional state change,
   record the attempt, and publish the event in the same transaction.

Two concurrent calls for one order may both reach step 2, but with the same
key: the gateway makes one charge, and step 3 applies it once.

``charge_for_orders`` runs these steps for many orders at once, each order's
outcome reported on its own, in as few statements as the rules allow (the
charge is on the saga's hot path, where each is a round trip the order waits
for): step 1 is one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` that
creates the missing rows and counts an attempt on the others (its own
transaction, ``kernel.bulk.upsert_rows``); step 3 one transaction of one
conditional ``UPDATE ... RETURNING`` (``kernel.bulk.update_rows_where``, which
locks the rows as the ``SELECT ... FOR UPDATE`` it replaces did), one insert of
the attempts and one of the events."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NoReturn
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from contexts.kernel.bulk import update_rows_where, upsert_rows
from contexts.kernel.outbox import publish, publish_all
from contexts.kernel.transactions import atomic
from contexts.payments import events
from contexts.payments.contracts import (
    ChargeDeclined,
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    PaymentAbandoned,
    PaymentError,
    PaymentGatewayUnavailable,
    PaymentInfo,
    PaymentRefundRejected,
)
from contexts.payments.gateway import (
    GatewayError,
    GatewayResult,
    GatewayTimeout,
    PaymentGateway,
    get_gateway,
)
from contexts.payments.models import GatewayAttempt, Payment, Refund
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


def refund_key(order_id: UUID, resubmission: int = 0) -> str:
    """The gateway idempotency key of the order's refund (a new one per staff resubmission)."""
    key = f"refund:{order_id}"
    return f"{key}:{resubmission}" if resubmission else key


def charge_for_order(
    *, order_id: UUID, amount: Decimal, currency: str, payment_token: str
) -> PaymentInfo:
    """Charge the order once; see ``public.charge_for_order`` for the contract."""
    request = ChargeRequest(
        order_id=order_id, amount=amount, currency=currency, payment_token=payment_token
    )
    outcome = charge_for_orders(requests=[request])[order_id]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def charge_for_orders(*, requests: Sequence[ChargeRequest]) -> dict[UUID, PaymentInfo | Exception]:
    """Charge many orders once each; see ``public.charge_for_orders`` for the contract."""
    outcomes: dict[UUID, PaymentInfo | Exception] = {}
    valid: dict[UUID, ChargeRequest] = {}
    for request in requests:
        try:
            valid[request.order_id] = ChargeRequest(
                order_id=request.order_id,
                amount=_valid_amount(request.amount),
                currency=_valid_currency(request.currency),
                payment_token=_valid_token(request.payment_token),
            )
        except PaymentError as exc:
            outcomes[request.order_id] = exc
    if not valid:
        return outcomes

    # 1. One statement (its own transaction): every payment row created or its attempt
    #    counted, and locked while it is; what each order needs is decided on what it returns.
    to_charge: dict[UUID, Payment] = {}
    late: list[UUID] = []
    locked = _lock_or_create_payments(valid.values())
    for order_id, request in valid.items():
        payment = locked[order_id]
        if (payment.amount, payment.currency) != (request.amount, request.currency):
            outcomes[order_id] = PaymentError(
                f"Order {order_id} was already charged {payment.amount} {payment.currency}."
            )
        elif payment.status == Payment.Status.DECLINED:
            outcomes[order_id] = ChargeDeclined(f"Payment declined: {payment.decline_reason}.")
        elif payment.status in (Payment.Status.FAILED, Payment.Status.REFUNDED):
            outcomes[order_id] = PaymentAbandoned(f"The payment of order {order_id} was given up.")
        elif payment.status == Payment.Status.CAPTURED:
            if payment.abandoned_at is None:
                outcomes[order_id] = payment_info(payment)
            else:
                late.append(order_id)
        else:
            to_charge[order_id] = payment
    for order_id in late:
        outcomes[order_id] = _late_capture_given_back(order_id)

    # 2. The gateway, with no transaction open.
    calls = {order_id: _charge_at_gateway(valid[order_id]) for order_id in to_charge}
    if not calls:
        return outcomes

    # 3. One transaction: every outcome applied conditionally, every attempt recorded.
    with atomic(CONTEXT):
        now = timezone.now()
        for order_id, call in calls.items():
            _apply_charge(to_charge[order_id], call, now=now)
        applied = {
            payment.order_id: payment
            for payment in update_rows_where(
                sorted(to_charge.values(), key=lambda payment: payment.order_id),
                _CHARGE_FIELDS,
                guard="status",
                allowed=lambda payment: _RECORDED_OVER[payment.status],
                lock_order="order_id",
            )
        }
        GatewayAttempt.objects.bulk_create(
            _attempt(
                call,
                payment=to_charge[order_id],
                kind=GatewayAttempt.Kind.CHARGE,
                key=charge_key(order_id),
            )
            for order_id, call in calls.items()
        )
        publish_all(
            _charge_event(applied[order_id])
            for order_id in calls
            if order_id in applied and applied[order_id].status != Payment.Status.PENDING
        )
        # An approval not applied: another call for the order recorded its outcome first.
        unapplied = [
            order_id
            for order_id, call in calls.items()
            if order_id not in applied and call.result is not None and call.result.approved
        ]
        if unapplied:
            applied |= {p.order_id: p for p in Payment.objects.filter(order_id__in=unapplied)}

    for order_id, call in calls.items():
        failure = call.failure()
        if failure is not None:
            outcomes[order_id] = failure
        elif call.result is not None and not call.result.approved:
            outcomes[order_id] = ChargeDeclined(f"Payment declined: {call.result.reason}.")
        elif applied[order_id].abandoned_at is not None:
            outcomes[order_id] = _late_capture_given_back(order_id)
        else:
            outcomes[order_id] = payment_info(applied[order_id])
    return outcomes


def charge_outcome(order_id: UUID, outcome: PaymentInfo | Exception) -> ChargeOutcome:
    """One order's result of ``charge_for_orders`` as the contract's plain data."""
    if isinstance(outcome, PaymentInfo):
        return ChargeOutcome(order_id=order_id, result=ChargeResult.CAPTURED, payment=outcome)
    if isinstance(outcome, PaymentAbandoned):
        result = ChargeResult.ABANDONED
    elif isinstance(outcome, ChargeDeclined):
        result = ChargeResult.DECLINED
    elif isinstance(outcome, PaymentGatewayUnavailable):
        result = ChargeResult.UNAVAILABLE
    elif isinstance(outcome, PaymentError):
        result = ChargeResult.REFUSED
    else:
        logger.error("charging order %s failed on a bug", order_id, exc_info=outcome)
        return ChargeOutcome(
            order_id=order_id,
            result=ChargeResult.FAILED,
            detail=f"{type(outcome).__name__}: {outcome}",
        )
    return ChargeOutcome(order_id=order_id, result=result, detail=str(outcome))


#: What recording a charge's outcome may change on the payment row.
_CHARGE_FIELDS = [
    "status",
    "gateway_reference",
    "captured_at",
    "decline_reason",
    "last_error",
    "updated_at",
]


def _charge_at_gateway(request: ChargeRequest) -> _GatewayCall:
    return _call_gateway(
        lambda gateway: gateway.charge(
            idempotency_key=charge_key(request.order_id),
            amount=request.amount,
            currency=request.currency,
            token=request.payment_token,
        )
    )


def _late_capture_given_back(order_id: UUID) -> Exception:
    try:
        _give_back_late_capture(order_id)
    except Exception as exc:  # PaymentAbandoned, or the refund's own failure
        return exc


def refund_for_order(*, order_id: UUID) -> PaymentInfo | None:
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
            # Void it first: a charge request still in flight or arriving late must
            # not capture for an order that gave up (see charge_for_order). Whether
            # the last request took the money is asked of the gateway just below.
            payment.status = Payment.Status.FAILED
            payment.save(update_fields=["status", "updated_at"])
        if payment.status == Payment.Status.FAILED:
            if payment.void_confirmed_at is not None:
                return None
            refund = None
        elif payment.status != Payment.Status.CAPTURED:
            return None
        else:
            refund = Refund.objects.select_for_update().filter(payment=payment).first()
            if refund is None:
                refund = Refund.objects.create(
                    payment=payment, amount=payment.amount, currency=payment.currency
                )
            if refund.status == Refund.Status.REJECTED:
                # A rejection is final for its key: only staff resubmitting it helps.
                raise PaymentRefundRejected(f"The gateway refused the refund: {refund.reason}.")
            refund.attempts += 1
            refund.save(update_fields=["attempts", "updated_at"])

    if refund is None:
        # Voided while the outcome of the charge was unknown: settle it with the
        # gateway. A capture is recorded and then refunded like any other.
        if not _settle_voided_charge(payment):
            return None
        return refund_for_order(order_id=order_id)

    key = refund_key(order_id, refund.resubmissions)
    reference, amount, currency = payment.gateway_reference, refund.amount, refund.currency
    call = _call_gateway(
        lambda gateway: gateway.refund(
            idempotency_key=key,
            charge_reference=reference,
            amount=amount,
            currency=currency,
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
    assert result is not None  # raise_unavailable raised when the call had no result
    if not result.approved:
        logger.error("gateway refused the refund of order %s: %s", order_id, result.reason)
        raise PaymentRefundRejected(f"The gateway refused the refund: {result.reason}.")
    return payment_info(payment)


def resubmit_rejected_refund(*, order_id: UUID) -> bool:
    """Make a rejected refund of the order due again, under a new idempotency key.

    For staff, once the PSP accepts the refund (its rejection is final for the
    key it was sent with). Returns whether there was a rejected refund.
    """
    with atomic(CONTEXT):
        refund = (
            Refund.objects.select_for_update()
            .filter(payment__order_id=order_id, status=Refund.Status.REJECTED)
            .first()
        )
        if refund is None:
            return False
        refund.status = Refund.Status.PENDING
        refund.resubmissions += 1
        refund.reason = ""
        refund.save(update_fields=["status", "resubmissions", "reason", "updated_at"])
    logger.info("refund of order %s resubmitted (%d)", order_id, refund.resubmissions)
    return True


def payments_reconcile(*, limit: int = 200) -> int:
    """Settle payments whose outcome is still unknown, or money still owed; returns how many.

    Looked at once they have not changed for ``PAYMENTS_RECONCILE_AFTER_SECONDS``:

    - a charge still ``PENDING``: the gateway is asked what its key came to, and
      the capture or decline is recorded (nothing found: it is looked at again
      after the next window);
    - a payment voided while its charge's outcome was unknown: settled with the
      gateway, and a capture found is refunded;
    - a capture of an order that gave its payment up (a charge that landed after
      the void, e.g. from a runner that had lost the saga's lease): refunded,
      unless the gateway rejected that refund (staff resubmit it).
    """
    cutoff = timezone.now() - timedelta(seconds=settings.PAYMENTS_RECONCILE_AFTER_SECONDS)
    due = (
        Payment.objects.filter(updated_at__lte=cutoff)
        .filter(
            Q(status=Payment.Status.PENDING)
            | Q(status=Payment.Status.FAILED, void_confirmed_at__isnull=True)
            | (Q(status=Payment.Status.CAPTURED, abandoned_at__isnull=False))
        )
        .exclude(refund__status=Refund.Status.REJECTED)
        .order_by("updated_at")
        .values_list("order_id", "status")[:limit]
    )
    settled = 0
    for order_id, status in list(due):
        try:
            if status == Payment.Status.PENDING:
                outcome = _settle_pending_charge(order_id)
            else:
                outcome = refund_for_order(order_id=order_id)
        except PaymentError as exc:
            logger.warning("could not settle the payment of order %s: %s", order_id, exc)
            continue
        except Exception:
            # One payment's bug must not stop the others from being settled.
            logger.exception("settling the payment of order %s failed", order_id)
            continue
        if outcome is not None:
            settled += 1
    if settled:
        logger.info("reconciliation settled %d payment(s)", settled)
    return settled


# --- steps ----------------------------------------------------------------


def _lock_or_create_payments(requests: Iterable[ChargeRequest]) -> dict[UUID, Payment]:
    """The orders' payment rows, created PENDING (their first attempt counted) where missing;
    an existing row counts one more attempt when it is still being charged with the same
    amount. One statement, locking the rows in order id order while it runs (a concurrent
    first charge inserts the same row: one of them inserts it, the other counts on it)."""
    ordered = sorted(requests, key=lambda r: r.order_id)
    stored = upsert_rows(
        [
            Payment(order_id=r.order_id, amount=r.amount, currency=r.currency, attempts=1)
            for r in ordered
        ],
        unique="order_id",
        increment=["attempts"],
        refresh=["updated_at"],
        when_same=["amount", "currency"],
        when={"status": [Payment.Status.PENDING]},
    )
    return {payment.order_id: payment for payment in stored}


def _apply_charge(payment: Payment, call: _GatewayCall, *, now: datetime) -> None:
    """What the call comes to on the payment (unsaved): captured, declined, or the error."""
    result = call.result
    if result is None:
        payment.last_error = call.error_text
    elif result.approved:
        _mark_captured(payment, reference=result.reference, now=now)
    else:
        _mark_declined(payment, reason=result.reason)
    payment.updated_at = now


#: The statuses a charge's outcome may replace, by the status it records. A capture
#: replaces FAILED too: the order gave up while the call was in flight, but the money was
#: taken, so it is recorded (and given back). An error is recorded on a PENDING payment.
_RECORDED_OVER: dict[str, tuple[str, ...]] = {
    Payment.Status.CAPTURED: (Payment.Status.PENDING, Payment.Status.FAILED),
    Payment.Status.DECLINED: (Payment.Status.PENDING,),
    Payment.Status.PENDING: (Payment.Status.PENDING,),
}


def _charge_event(payment: Payment) -> events.PaymentCaptured | events.PaymentDeclined:
    if payment.status == Payment.Status.CAPTURED:
        return _captured(payment)
    return events.PaymentDeclined(
        payment_id=payment.id, order_id=payment.order_id, reason=payment.decline_reason
    )


def _capture(payment: Payment, *, reference: str) -> None:
    _mark_captured(payment, reference=reference, now=timezone.now())
    payment.save(
        update_fields=["status", "gateway_reference", "captured_at", "last_error", "updated_at"]
    )
    publish(_captured(payment))


def _mark_captured(payment: Payment, *, reference: str, now: datetime) -> None:
    """The payment is captured (saved by the caller, who publishes ``PaymentCaptured``)."""
    payment.status = Payment.Status.CAPTURED
    payment.gateway_reference = reference
    payment.captured_at = now
    payment.last_error = ""


def _captured(payment: Payment) -> events.PaymentCaptured:
    return events.PaymentCaptured(
        payment_id=payment.id,
        order_id=payment.order_id,
        amount=payment.amount,
        currency=payment.currency,
    )


def _decline(payment: Payment, *, reason: str) -> None:
    _mark_declined(payment, reason=reason)
    payment.save(update_fields=["status", "decline_reason", "updated_at"])
    publish(_charge_event(payment))


def _mark_declined(payment: Payment, *, reason: str) -> None:
    """The payment is declined (saved by the caller, who publishes ``PaymentDeclined``)."""
    payment.status = Payment.Status.DECLINED
    payment.decline_reason = reason


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
    refund_for_order(order_id=order_id)
    raise PaymentAbandoned(f"The payment of order {order_id} was given up and refunded.")


def _settle_voided_charge(payment: Payment) -> bool:
    """Ask the gateway what a voided payment's charge came to; True if it took the money.

    A capture is recorded (the payment stays given up, so it is refunded next);
    no capture confirms the void. The gateway unreachable raises
    PaymentGatewayUnavailable and leaves the void unconfirmed for the
    reconciliation job.
    """
    key = charge_key(payment.order_id)
    call = _call_gateway(lambda gateway: gateway.lookup(idempotency_key=key))
    with atomic(CONTEXT):
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        _record_attempt(call, payment=payment, kind=GatewayAttempt.Kind.LOOKUP, key=key)
        if call.error is None:
            found = call.result
            if found is not None and found.approved:
                if payment.status in (Payment.Status.PENDING, Payment.Status.FAILED):
                    logger.warning(
                        "order %s gave its payment up, but the gateway had captured it",
                        payment.order_id,
                    )
                    _capture(payment, reference=found.reference)
            elif payment.status == Payment.Status.FAILED and payment.void_confirmed_at is None:
                payment.void_confirmed_at = timezone.now()
                payment.save(update_fields=["void_confirmed_at", "updated_at"])
    call.raise_unavailable()
    return payment.status == Payment.Status.CAPTURED


def _settle_pending_charge(order_id: UUID) -> PaymentInfo | None:
    """A charge pending for long: record what the gateway says its key came to."""
    key = charge_key(order_id)
    call = _call_gateway(lambda gateway: gateway.lookup(idempotency_key=key))
    with atomic(CONTEXT):
        payment = Payment.objects.select_for_update().get(order_id=order_id)
        _record_attempt(call, payment=payment, kind=GatewayAttempt.Kind.LOOKUP, key=key)
        found = call.result
        if payment.status != Payment.Status.PENDING or call.error is not None:
            pass
        elif found is None:
            # Nothing happened at the gateway (yet): look again after the next window.
            payment.save(update_fields=["updated_at"])
        elif found.approved:
            _capture(payment, reference=found.reference)
        else:
            _decline(payment, reason=found.reason)
    call.raise_unavailable()
    if found is None:
        return None
    if payment.abandoned_at is not None and payment.status == Payment.Status.CAPTURED:
        return refund_for_order(order_id=order_id)
    return payment_info(payment)


# --- the gateway call ------------------------------------------------------


@dataclass(frozen=True)
class _GatewayCall:
    """What one gateway call came to: a definitive result, or the error instead."""

    #: None with no error: a lookup that found no definitive outcome.
    result: GatewayResult | None
    error: Exception | None
    duration_ms: int

    @property
    def outcome(self) -> str:
        if self.result is None and self.error is None:
            return GatewayAttempt.Outcome.NOT_FOUND
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

    def failure(self) -> Exception | None:
        """What a failed call comes to for the caller: a gateway error as
        PaymentGatewayUnavailable, a bug of the adapter as itself (recorded, not hidden)."""
        if self.error is None:
            return None
        if isinstance(self.error, GatewayError):
            unavailable = PaymentGatewayUnavailable(
                f"The payment gateway is unavailable ({self.error_text})."
            )
            unavailable.__cause__ = self.error
            return unavailable
        return self.error

    def raise_unavailable(self) -> None:
        """Re-raise a failed call (see ``failure``)."""
        failure = self.failure()
        if failure is not None:
            raise failure


def _call_gateway(request: Callable[[PaymentGateway], GatewayResult | None]) -> _GatewayCall:
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
    _attempt(call, payment=payment, kind=kind, key=key, refund=refund).save()


def _attempt(
    call: _GatewayCall,
    *,
    payment: Payment,
    kind: str,
    key: str,
    refund: Refund | None = None,
) -> GatewayAttempt:
    return GatewayAttempt(
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


def _valid_token(token: str) -> str:
    if not isinstance(token, str):
        raise PaymentError("The payment token must be a string.", field="payment_token")
    return token


def _valid_currency(currency: str) -> str:
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise PaymentError("The currency must be a three-letter ISO 4217 code.", field="currency")
    return currency
