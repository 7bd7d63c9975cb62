"""The order's steps: reserve stock -> charge -> confirm, and the compensations.

Each step takes every claimed saga at that step (a group of one or many) and
returns one outcome per saga (``outcomes.py``); the engine writes them. The
steps of the happy path make one call per context for the whole group:
``inventory.reserve_stock_for_orders``, ``payments.charge_for_orders`` and
``inventory.commit_stock_for_orders``, each one transaction in its context
that reports every order's outcome on its own, so one order's failure
(out of stock, declined, a gateway error) never fails the others. A call that
fails as a whole (the database down) retries every saga of the group.
Compensations are rare and run order by order.

Every call to another context happens outside ``atomic("orders")`` and is
idempotent per order, so repeating a step after a crash repeats nothing. That
is what lets the happy path write once: the reservation and the capture are
written together with the confirmation (``with_next_write``). A saga whose
runner died before that write is still at the step it was claimed at, and its
next attempt repeats from there: a held reservation is reserved again as a
no-op, a capture comes back from payments as a replay. At the reserve step,
any attempt after the first may therefore follow a charge, and cancelling
there refunds whatever was taken (``_maybe_charged``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.utils import timezone

from contexts.catalog import public as catalog
from contexts.inventory import public as inventory
from contexts.inventory.contracts import (
    InventoryError,
    OrderStock,
    OutOfStock,
    ReservationNotHeld,
    StockLine,
)
from contexts.kernel.correlation import get_correlation_id
from contexts.orders import conf
from contexts.orders.events import (
    PAYMENT_NOT_TAKEN,
    PAYMENT_REFUND_PENDING,
    PAYMENT_REFUNDED,
    OrderCancelled,
    OrderConfirmed,
)
from contexts.orders.history import Entry
from contexts.orders.models import CancelReason, HistoryType, OrderItem, OrderStatus, SagaState
from contexts.orders.models import SagaStep as Step
from contexts.orders.saga.outcomes import (
    BEFORE_PIVOT,
    BOUNDED,
    Move,
    NeedsAttention,
    Outcome,
    Retry,
    error_text,
)
from contexts.payments import public as payments
from contexts.payments.contracts import (
    ChargeDeclined,
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    PaymentError,
    PaymentGatewayUnavailable,
    PaymentInfo,
    PaymentRefundRejected,
)

logger = logging.getLogger(__name__)


# --- the happy path, for a whole group ------------------------------------------


def reserve_stock(states: Sequence[SagaState]) -> list[Outcome]:
    outcomes, runnable = _split_overdue(states)
    if not runnable:
        return outcomes
    items = _items_of(runnable)
    try:
        products = catalog.get_products(
            sorted({item.product_id for lines in items.values() for item in lines})
        )
    except Exception as exc:
        return outcomes + [Retry(state, exc) for state in runnable]
    reserving: list[SagaState] = []
    for state in runnable:
        gone = [
            str(item.product_id)
            for item in items[state.order_id]
            if item.product_id not in products
        ]
        if gone:
            outcomes.append(
                _cancel_at_reserve(
                    state,
                    reason=CancelReason.PRODUCT_UNAVAILABLE,
                    entry=Entry(
                        HistoryType.STOCK_RESERVATION_FAILED,
                        {"reason": "product unavailable", "product_ids": gone},
                    ),
                    holds_stock=True,  # an earlier attempt may have reserved it
                )
            )
        else:
            reserving.append(state)
    if not reserving:
        return outcomes
    try:
        results = inventory.reserve_stock_for_orders(
            requests=[
                OrderStock(
                    order_id=state.order_id,
                    lines=tuple(
                        StockLine(product_id=item.product_id, quantity=item.quantity)
                        for item in items[state.order_id]
                    ),
                )
                for state in reserving
            ]
        )
    except Exception as exc:
        return outcomes + [Retry(state, exc) for state in reserving]
    for state in reserving:
        error = results[state.order_id].error()
        outcomes.append(_reserved(state, items[state.order_id], error))
    return outcomes


def _reserved(state: SagaState, items: list[OrderItem], error: Exception | None) -> Outcome:
    if error is None:
        return Move(
            state,
            step=Step.CHARGE_PAYMENT,
            entries=[
                Entry(
                    HistoryType.STOCK_RESERVED,
                    {
                        "lines": [
                            {"product_id": str(i.product_id), "quantity": i.quantity} for i in items
                        ]
                    },
                )
            ],
            expected_status=OrderStatus.PENDING,
            # Recorded with the charge's outcome: until then the saga's row says
            # RESERVE_STOCK, and a runner that dies first leaves the reserve (a no-op
            # for a held reservation) and the charge (a replay) to be repeated.
            with_next_write=True,
        )
    if isinstance(error, OutOfStock):
        detail: dict[str, Any] = {
            "reason": "out of stock",
            "product_ids": [str(p) for p in error.product_ids],
        }
        reason = CancelReason.OUT_OF_STOCK
    elif isinstance(error, ReservationNotHeld):
        # Reserved earlier, then released (expired) before we recorded it: nothing is held.
        detail = {"reason": "reservation released before it was recorded"}
        reason = CancelReason.OUT_OF_STOCK
    elif isinstance(error, InventoryError):
        # Any other refusal of a well-formed request (e.g. a product inventory does not know).
        detail = {"reason": str(error)}
        reason = CancelReason.PRODUCT_UNAVAILABLE
    else:
        return Retry(state, error)
    return _cancel_at_reserve(
        state,
        reason=reason,
        entry=Entry(HistoryType.STOCK_RESERVATION_FAILED, detail),
        holds_stock=False,
    )


def charge_payment(states: Sequence[SagaState]) -> list[Outcome]:
    outcomes, runnable = _split_overdue(states)
    if not runnable:
        return outcomes
    try:
        results = payments.charge_for_orders(
            requests=[
                ChargeRequest(
                    order_id=state.order_id,
                    amount=state.order.total,
                    currency=state.order.currency,
                    payment_token=state.order.payment_token,
                )
                for state in runnable
            ]
        )
    except Exception as exc:
        return outcomes + [Retry(state, exc) for state in runnable]
    for state in runnable:
        outcomes.append(_charged(state, results[state.order_id]))
    return outcomes


def _charged(state: SagaState, charge: ChargeOutcome) -> Outcome:
    payment = charge.payment
    if charge.result == ChargeResult.CAPTURED and payment is not None:
        return Move(
            state,
            step=Step.CONFIRM_ORDER,
            entries=[
                Entry(
                    HistoryType.PAYMENT_CAPTURED,
                    {
                        "payment_id": str(payment.payment_id),
                        "amount": str(payment.amount),
                        "currency": payment.currency,
                    },
                )
            ],
            expected_status=OrderStatus.PENDING,
            # Recorded with the confirmation: until then the saga's row says CHARGE_PAYMENT,
            # and a runner that dies first leaves the charge to be repeated (a replay).
            with_next_write=True,
        )
    outcome = charge.error()
    if isinstance(outcome, ChargeDeclined):
        return _compensate_with(
            state,
            reason=CancelReason.PAYMENT_DECLINED,
            entry=Entry(HistoryType.PAYMENT_DECLINED, {"detail": str(outcome)}),
            release=True,
            refund=False,
        )
    if isinstance(outcome, PaymentGatewayUnavailable):
        if state.attempts >= conf.payment_max_attempts():
            return _payment_failed(state, str(outcome))
        return Retry(
            state,
            outcome,
            entry=Entry(
                HistoryType.PAYMENT_RETRY_SCHEDULED,
                {"attempt": state.attempts, "error": str(outcome)},
            ),
        )
    if isinstance(outcome, PaymentError):
        # Refused for a reason other than a decline (e.g. an amount it cannot take).
        return _payment_failed(state, str(outcome))
    return Retry(state, outcome or charge.detail)


def confirm_order(states: Sequence[SagaState]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    runnable: list[SagaState] = []
    for state in states:
        if _out_of_attempts(state):
            outcomes.append(NeedsAttention(state, state.last_error or "out of attempts"))
        else:
            runnable.append(state)
    if not runnable:
        return outcomes
    try:
        results = inventory.commit_stock_for_orders(
            order_ids=[state.order_id for state in runnable]
        )
    except Exception as exc:
        # After the pivot only forward: retry the commit (bounded, then staff).
        return outcomes + [Retry(state, exc) for state in runnable]
    for state in runnable:
        outcomes.append(_committed(state, results[state.order_id].error()))
    return outcomes


def _committed(state: SagaState, error: Exception | None) -> Outcome:
    if isinstance(error, ReservationNotHeld):
        # Captured, but the reservation expired meanwhile: give the money back.
        return _compensate_with(
            state,
            reason=CancelReason.OUT_OF_STOCK,
            entry=Entry(
                HistoryType.STOCK_RESERVATION_FAILED,
                {"reason": "reservation expired before it was committed"},
            ),
            release=False,
            refund=True,
        )
    if error is not None:
        return Retry(state, error)
    order = state.order
    event = OrderConfirmed(
        order_id=order.id,
        user_id=order.user_id,
        total=order.total,
        currency=order.currency,
        correlation_id=_correlation(state),
    )
    return Move(
        state,
        step=Step.DONE,
        entries=[Entry(HistoryType.ORDER_CONFIRMED, {}, event.event_id)],
        expected_status=OrderStatus.PENDING,
        new_status=OrderStatus.CONFIRMED,
        event=event,
    )


# --- compensations, order by order ----------------------------------------------


def compensate(states: Sequence[SagaState]) -> list[Outcome]:
    return [_compensate(state) for state in states]


def refund_and_restock(states: Sequence[SagaState]) -> list[Outcome]:
    return [_refund_and_restock(state) for state in states]


def refund_payment(states: Sequence[SagaState]) -> list[Outcome]:
    return [_refund_payment(state) for state in states]


def _compensate(state: SagaState) -> Outcome:
    if _out_of_attempts(state):
        return NeedsAttention(state, state.last_error or "out of attempts")
    reason = state.cancel_reason or CancelReason.OUT_OF_STOCK
    entries: list[Entry] = []
    try:
        if state.release_stock:
            inventory.release_stock_for_order(order_id=state.order_id, reason=reason)
            entries.append(Entry(HistoryType.STOCK_RELEASED, {}))
    except Exception as exc:
        # Compensations are retried (bounded, then staff).
        return Retry(state, exc)
    if not state.refund_payment:
        return _cancel_now(state, reason=reason, entries=entries)
    try:
        refund = payments.refund_for_order(order_id=state.order_id)
    except Exception as exc:
        # The stock is back: the order is cancelled now and the refund retried after.
        return _cancel_now(
            state,
            reason=reason,
            entries=[*entries, _REFUND_PENDING],
            payment=PAYMENT_REFUND_PENDING,
            refund_error=exc,
        )
    if refund is None:
        return _cancel_now(state, reason=reason, entries=entries)
    return _cancel_now(
        state, reason=reason, entries=[*entries, _refunded_entry(refund)], payment=PAYMENT_REFUNDED
    )


def _refund_and_restock(state: SagaState) -> Outcome:
    if _out_of_attempts(state):
        return NeedsAttention(state, state.last_error or "out of attempts")
    try:
        # Stock first: it never waits for the refund.
        inventory.restock_for_order(order_id=state.order_id)
    except Exception as exc:
        return Retry(state, exc)
    entries = [Entry(HistoryType.STOCK_RESTOCKED, {})]
    try:
        refund = payments.refund_for_order(order_id=state.order_id)
    except Exception as exc:
        return Move(
            state,
            step=Step.REFUND_PAYMENT,
            entries=[*entries, _REFUND_PENDING],
            saga_fields=_refund_later(state, exc),
            wait=True,
        )
    if refund is not None:
        entries.insert(0, _refunded_entry(refund))
    return Move(state, step=Step.DONE, entries=entries)


def _refund_payment(state: SagaState) -> Outcome:
    """The order is cancelled and its stock back; only the refund is left."""
    if _out_of_attempts(state):
        return NeedsAttention(state, state.last_error or "out of attempts")
    try:
        refund = payments.refund_for_order(order_id=state.order_id)
    except PaymentRefundRejected as exc:
        # Final for its key: retrying cannot help, only staff resubmitting it.
        return NeedsAttention(state, error_text(exc))
    except Exception as exc:
        return Retry(state, exc)
    if refund is None:
        entry = Entry(
            HistoryType.PAYMENT_NOT_TAKEN,
            {"reason": "the payment gateway confirmed that no payment was taken"},
        )
    else:
        entry = _refunded_entry(refund)
    return Move(state, step=Step.DONE, entries=[entry])


# --- shared decisions --------------------------------------------------------------


def _split_overdue(states: Sequence[SagaState]) -> tuple[list[Outcome], list[SagaState]]:
    """Before the pivot: the sagas past their deadline or attempts (which compensate
    instead of running), and those whose step may run."""
    outcomes: list[Outcome] = []
    runnable: list[SagaState] = []
    for state in states:
        overdue = _give_up_if_overdue(state)
        if overdue is None:
            runnable.append(state)
        else:
            outcomes.append(overdue)
    return outcomes, runnable


def _give_up_if_overdue(state: SagaState) -> Outcome | None:
    if state.step not in BEFORE_PIVOT:
        return None
    overdue = state.deadline is not None and timezone.now() > state.deadline
    if state.step == Step.RESERVE_STOCK:
        if not overdue and state.attempts <= conf.step_max_attempts():
            return None
        if _maybe_charged(state) and _charge_was_attempted(state):
            return _payment_failed(state, "no answer from the payment gateway in time")
        # A reservation may have been made before a crash: release it.
        return _compensate_with(
            state,
            reason=CancelReason.OUT_OF_STOCK,
            entry=Entry(
                HistoryType.STOCK_RESERVATION_FAILED,
                {"reason": "no answer from inventory in time", "attempts": state.attempts - 1},
            ),
            release=True,
            refund=False,
        )
    if not overdue and state.attempts <= conf.payment_max_attempts():
        return None
    return _payment_failed(state, "no answer from the payment gateway in time")


def _maybe_charged(state: SagaState) -> bool:
    """At the reserve step, whether an earlier attempt may have charged the order.

    The reservation is written with the charge's outcome, and the capture with
    the confirmation (moves ``with_next_write``), so a runner that died after
    charging leaves the saga at the reserve step, and the next attempt repeats
    the reserve and the charge (both idempotent per order). Every attempt after
    the first may thus follow a charge: if it cancels, it refunds whatever was
    taken (usually nothing: the refund then finds no payment).
    """
    return state.step == Step.RESERVE_STOCK and state.attempts > 1


def _charge_was_attempted(state: SagaState) -> bool:
    """Whether payments knows a charge of the order (it records one before calling the
    gateway); when payments cannot say, assume it does (a refund finding nothing is harmless)."""
    try:
        return payments.get_payment_for_order(order_id=state.order_id) is not None
    except Exception as exc:
        logger.warning("order %s: could not ask payments about a charge: %s", state.order_id, exc)
        return True


def _cancel_at_reserve(state: SagaState, *, reason: str, entry: Entry, holds_stock: bool) -> Move:
    """Cancel at the reserve step: at once on a first attempt; after that through the
    compensation, which refunds whatever an earlier attempt may have charged (and
    releases the stock the order may hold)."""
    if _maybe_charged(state):
        return _compensate_with(state, reason=reason, entry=entry, release=holds_stock, refund=True)
    return _cancel_now(state, reason=reason, entries=[entry])


def _out_of_attempts(state: SagaState) -> bool:
    """A bounded step claimed more often than allowed (e.g. its runner keeps dying)."""
    return state.step in BOUNDED and state.attempts > conf.compensation_max_attempts()


def _compensate_with(
    state: SagaState, *, reason: str, entry: Entry, release: bool, refund: bool
) -> Move:
    return Move(
        state,
        step=Step.COMPENSATE,
        entries=[entry],
        expected_status=OrderStatus.PENDING,
        saga_fields={"cancel_reason": reason, "release_stock": release, "refund_payment": refund},
    )


def _payment_failed(state: SagaState, detail: str) -> Move:
    # The outcome of the last attempt is unknown: refund whatever may have been captured.
    return _compensate_with(
        state,
        reason=CancelReason.PAYMENT_FAILED,
        entry=Entry(HistoryType.PAYMENT_FAILED, {"error": detail, "attempts": state.attempts}),
        release=True,
        refund=True,
    )


def _cancel_now(
    state: SagaState,
    *,
    reason: str,
    entries: Sequence[Entry],
    payment: str = PAYMENT_NOT_TAKEN,
    refund_error: BaseException | None = None,
) -> Move:
    """Cancel a PENDING order that holds nothing more to give back (stock released or never
    reserved); with ``refund_error`` the refund that failed is left to the REFUND_PAYMENT step."""
    order = state.order
    event = OrderCancelled(
        order_id=order.id,
        user_id=order.user_id,
        reason=reason,
        payment=payment,
        correlation_id=_correlation(state),
    )
    fields: dict[str, Any] = {"cancel_reason": reason}
    if refund_error is not None:
        fields.update(_refund_later(state, refund_error))
    return Move(
        state,
        step=Step.DONE if refund_error is None else Step.REFUND_PAYMENT,
        entries=[*entries, Entry(HistoryType.ORDER_CANCELLED, {"reason": reason}, event.event_id)],
        expected_status=OrderStatus.PENDING,
        new_status=OrderStatus.CANCELLED,
        cancel_reason=reason,
        event=event,
        saga_fields=fields,
        wait=refund_error is not None,
    )


_REFUND_PENDING = Entry(
    HistoryType.PAYMENT_REFUND_PENDING,
    {"reason": "the refund has not gone through yet; it is being retried"},
)


def _refund_later(state: SagaState, error: BaseException) -> dict[str, Any]:
    """Saga fields that leave the refund to REFUND_PAYMENT, due after a backoff."""
    logger.warning("order %s: refund failed, retried after the cancel: %s", state.order_id, error)
    return {
        "attempts": 0,
        "next_attempt_at": timezone.now() + conf.retry_delay(1),
        "refund_payment": True,
        "release_stock": False,
        "last_error": error_text(error)[:2000],
    }


def _refunded_entry(refund: PaymentInfo) -> Entry:
    return Entry(
        HistoryType.PAYMENT_REFUNDED,
        {"payment_id": str(refund.payment_id), "amount": str(refund.amount)},
    )


def _items_of(states: Sequence[SagaState]) -> dict[Any, list[OrderItem]]:
    """The lines of every order in ``states``, in one query."""
    items: dict[Any, list[OrderItem]] = {state.order_id: [] for state in states}
    for item in OrderItem.objects.filter(order_id__in=list(items)).order_by("order_id", "id"):
        items[item.order_id].append(item)
    return items


def _correlation(state: SagaState) -> str:
    return state.correlation_id or get_correlation_id()


def _finished(states: Sequence[SagaState]) -> list[Outcome]:
    return []


#: Each step, run for every saga the runner holds at it.
STEPS: dict[str, Callable[[Sequence[SagaState]], list[Outcome]]] = {
    Step.RESERVE_STOCK: reserve_stock,
    Step.CHARGE_PAYMENT: charge_payment,
    Step.CONFIRM_ORDER: confirm_order,
    Step.COMPENSATE: compensate,
    Step.REFUND_AND_RESTOCK: refund_and_restock,
    Step.REFUND_PAYMENT: refund_payment,
    Step.DONE: _finished,
}
