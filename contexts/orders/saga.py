"""The order placement saga: reserve stock -> charge payment -> confirm.

Orchestrated and persistent. ``SagaState`` holds the step an order's saga is
at; a runner *claims* the saga with a conditional update (the step must be due:
``next_attempt_at <= now``) that also sets a lease (``next_attempt_at = now +
lease``) and counts the attempt. Every transition afterwards is conditional on
the step and attempt number it claimed, so a runner that lost its lease (a
worker presumed dead, a redelivered message) cannot move the saga twice. Each
transition writes the saga state, the order row and its history (and the
outbox row, if any) in one ``atomic("orders")``; calls to inventory and
payments happen between transactions, never inside one, and are idempotent
per order, so re-running a step after a crash repeats nothing.

Business failures compensate in reverse (release stock, refund, cancel with a
reason); transient failures retry with exponential backoff, persisted in
``next_attempt_at`` and sent as a short Celery countdown, with
``orders.resume_stalled_sagas`` (beat) as the safety net for lost messages
and dead workers. The lease is short (seconds) and kept alive while the
runner works by a heartbeat thread (``_Heartbeat``), so the saga of a runner
that died is free again within seconds, not after the longest a step may take.
Once the payment is captured (the pivot) the saga only
moves forward: confirming retries, except when the reservation is gone,
which refunds and cancels OUT_OF_STOCK.

Every saga ends. Stock never waits for a refund: a compensation gives the
stock back and cancels the order first, then refunds (step REFUND_PAYMENT,
retried). A step after the pivot or a compensation that still fails after
``ORDERS_SAGA_COMPENSATION_MAX_ATTEMPTS`` (a refund the gateway rejects, a
bug) stops in ``NEEDS_ATTENTION``, logged at ERROR with its last error, until
staff resume it (``saga_resume_needing_attention``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from celery import current_app
from django.db import DatabaseError, connections
from django.db.models import F
from django.utils import timezone

from contexts.catalog import public as catalog
from contexts.inventory import public as inventory
from contexts.inventory.contracts import (
    InventoryError,
    OutOfStock,
    ReservationNotHeld,
    StockLine,
)
from contexts.kernel.correlation import get_correlation_id, reset_correlation_id, set_correlation_id
from contexts.kernel.databases import database_for
from contexts.kernel.outbox import publish
from contexts.kernel.transactions import atomic, on_commit
from contexts.orders import conf, history
from contexts.orders.events import (
    PAYMENT_NOT_TAKEN,
    PAYMENT_REFUND_PENDING,
    PAYMENT_REFUNDED,
    OrderCancelled,
    OrderConfirmed,
)
from contexts.orders.history import Entry
from contexts.orders.models import (
    CancelReason,
    HistoryType,
    OrderStatus,
    SagaState,
    SagaStatus,
    SagaStep,
)
from contexts.payments import public as payments
from contexts.payments.contracts import (
    ChargeDeclined,
    PaymentError,
    PaymentGatewayUnavailable,
    PaymentInfo,
    PaymentRefundRejected,
)

logger = logging.getLogger(__name__)

TASK_NAME = "orders.advance_saga"
#: Steps before the pivot: they give up (compensate) after their deadline.
BEFORE_PIVOT = frozenset({SagaStep.RESERVE_STOCK, SagaStep.CHARGE_PAYMENT})
#: Steps after the pivot and compensations: bounded, then NEEDS_ATTENTION.
BOUNDED = frozenset(
    {
        SagaStep.CONFIRM_ORDER,
        SagaStep.COMPENSATE,
        SagaStep.REFUND_AND_RESTOCK,
        SagaStep.REFUND_PAYMENT,
    }
)
#: Steps that may leave a rejected refund for staff to resubmit.
REFUNDING = frozenset({SagaStep.COMPENSATE, SagaStep.REFUND_AND_RESTOCK, SagaStep.REFUND_PAYMENT})
#: More steps than a saga can take in one run; a guard against a loop bug.
MAX_STEPS_PER_RUN = 8


# --- Scheduling -------------------------------------------------------------


def enqueue(order_id: UUID, *, countdown: float | None = None) -> None:
    """Send ``orders.advance_saga`` for the order; the sweep covers a failed send."""
    try:
        current_app.send_task(
            TASK_NAME,
            args=[str(order_id)],
            kwargs={"correlation_id": get_correlation_id()},
            countdown=countdown,
            retry=False,
        )
    except Exception:  # broker down: the saga is persisted, the sweep resumes it
        logger.warning("could not enqueue the saga of order %s; the sweep will", order_id)


def enqueue_on_commit(order_id: UUID) -> None:
    """Enqueue the saga once the current ``atomic("orders")`` commits."""
    on_commit("orders", lambda: enqueue(order_id))


def saga_resume_stalled(*, limit: int = 500) -> int:
    """Re-enqueue sagas whose step is overdue (lost message, dead worker); returns how many.

    A saga is overdue when its step was due (or its lease ended) more than the
    sweep's grace ago. ``FOR UPDATE SKIP LOCKED`` lets sweeps run side by side,
    and ``updated_at`` records the sweep so the same saga is not re-enqueued
    more than once per grace period.
    """
    now = timezone.now()
    cutoff = now - conf.sweep_grace()
    with atomic("orders"):
        ids = list(
            SagaState.objects.select_for_update(skip_locked=True)
            .filter(status=SagaStatus.ACTIVE, next_attempt_at__lte=cutoff, updated_at__lte=cutoff)
            .order_by("next_attempt_at")
            .values_list("order_id", flat=True)[:limit]
        )
        if ids:
            SagaState.objects.filter(order_id__in=ids).update(updated_at=now)
            for order_id in ids:
                enqueue_on_commit(order_id)
    if ids:
        logger.info("resumed %d stalled saga(s)", len(ids))
    return len(ids)


# --- Running ----------------------------------------------------------------


class _Stale(Exception):
    """The saga moved on under us (another runner holds it): roll back and stop."""


def saga_advance(*, order_id: UUID) -> bool:
    """Run the order's saga from its current step until it finishes or must wait.

    Returns False when there was nothing to do: the saga is finished, not due
    yet, or held by another runner.
    """
    state = _claim(order_id=order_id, now=timezone.now())
    if state is None:
        return False
    _run(state)
    return True


def saga_advance_claimed(*, order_id: UUID) -> None:
    """Run a saga this process has just claimed itself (e.g. after a customer cancel)."""
    state = SagaState.objects.select_related("order").filter(order_id=order_id).first()
    if state is not None and state.status == SagaStatus.ACTIVE:
        _run(state)


def start_refund_and_restock(*, order_id: UUID, now: datetime) -> None:
    """Inside the customer cancel's transaction: the saga is to refund and restock, now.

    The caller holds the step (attempt 1, leased) and runs it right after commit.
    """
    fields = {
        "step": SagaStep.REFUND_AND_RESTOCK,
        "status": SagaStatus.ACTIVE,
        "attempts": 1,
        "next_attempt_at": now + conf.lease(),
        "deadline": None,
        "cancel_reason": CancelReason.CUSTOMER_CANCELLED,
        "release_stock": False,
        "refund_payment": True,
        "last_error": "",
        "correlation_id": get_correlation_id(),
    }
    if not SagaState.objects.filter(order_id=order_id).update(**fields):
        SagaState.objects.create(order_id=order_id, **fields)


def _claim(*, order_id: UUID, now: datetime) -> SagaState | None:
    claimed = SagaState.objects.filter(
        order_id=order_id, status=SagaStatus.ACTIVE, next_attempt_at__lte=now
    ).update(next_attempt_at=now + conf.lease(), attempts=F("attempts") + 1)
    if not claimed:
        return None
    return SagaState.objects.select_related("order").get(order_id=order_id)


class _Heartbeat:
    """Keeps the lease of the saga a runner holds alive while it works, from a thread.

    Every third of the lease it moves ``next_attempt_at`` (the lease's end) a
    lease ahead, conditionally: same step, same attempt and the lease's end it
    last knew, so it never overwrites the runner's own writes (a transition's
    new lease, a retry's due time) nor another runner's claim. The lease thus
    always exceeds the time between two heartbeats, however long a step runs;
    when the runner dies, its heartbeat dies with it and the saga is due one
    lease later. A heartbeat that cannot extend the lease before it ends marks
    it lost: the runner then stops before moving the saga (``_transition``).
    """

    def __init__(self, state: SagaState) -> None:
        self.state = state
        self.lost = False
        self._seen = self._snapshot()
        self._expires = state.next_attempt_at
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"saga-heartbeat-{state.order_id}", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        _held.heartbeat = self
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        _held.heartbeat = None
        self._stop.set()
        self._thread.join()

    def _snapshot(self) -> tuple[str, int, datetime]:
        state = self.state
        return state.step, state.attempts, state.next_attempt_at

    def _beat(self) -> None:
        interval = conf.lease().total_seconds() / 3
        try:
            while not self._stop.wait(interval):
                if not self._extend():
                    self.lost = True
                    logger.warning(
                        "saga of order %s: lease lost; the runner stops", self.state.order_id
                    )
                    return
        finally:
            connections.close_all()  # this thread's own connections only

    def _extend(self) -> bool:
        snapshot = self._snapshot()
        if snapshot != self._seen:
            # The runner moved the saga (a transition sets a fresh lease): follow it.
            self._seen = snapshot
            self._expires = snapshot[2]
        step, attempts, _ = snapshot
        now = timezone.now()
        renewed = now + conf.lease()
        try:
            moved = SagaState.objects.filter(
                order_id=self.state.order_id,
                status=SagaStatus.ACTIVE,
                step=step,
                attempts=attempts,
                next_attempt_at=self._expires,
            ).update(next_attempt_at=renewed)
        except DatabaseError as exc:
            logger.warning(
                "saga of order %s: could not extend the lease: %s", self.state.order_id, exc
            )
            connections[database_for("orders")].close_if_unusable_or_obsolete()
            moved = 0
        if moved:
            self._expires = renewed
            return True
        # Nothing matched: the runner's own write just changed the row (it is
        # followed on the next beat), or the database did not answer. Either is
        # harmless while the lease the heartbeat knows has not ended yet.
        return timezone.now() < self._expires


#: The heartbeat of the saga this thread runs, if any.
_held = threading.local()


def _lease_lost() -> bool:
    heartbeat = getattr(_held, "heartbeat", None)
    return heartbeat is not None and heartbeat.lost


def _run(state: SagaState) -> None:
    token = set_correlation_id(state.correlation_id or get_correlation_id())
    try:
        with _Heartbeat(state) as heartbeat:
            for _ in range(MAX_STEPS_PER_RUN):
                step = _STEPS[state.step]
                next_state = step(state)
                if next_state is None or next_state.status == SagaStatus.DONE:
                    return
                state = heartbeat.state = next_state
            logger.error("saga of order %s did not settle in one run", state.order_id)
    finally:
        reset_correlation_id(token)


def _transition(
    state: SagaState,
    *,
    step: str,
    entries: Sequence[Entry] = (),
    expected_status: str | None = None,
    new_status: str | None = None,
    cancel_reason: str | None = None,
    event: Any = None,
    saga_fields: dict[str, Any] | None = None,
) -> SagaState | None:
    """Move the saga from the step it holds to ``step`` and record the order's change.

    Returns the new state (still leased by this runner) or None if another
    runner had moved the saga on (nothing is written then).
    """
    if _lease_lost():
        # Another runner may hold the saga by now; the fence would refuse us anyway.
        logger.info("saga of order %s: lease lost; leaving it", state.order_id)
        return None
    now = timezone.now()
    done = step == SagaStep.DONE
    fields: dict[str, Any] = {
        "step": step,
        "status": SagaStatus.DONE if done else SagaStatus.ACTIVE,
        "attempts": 0 if done else 1,
        "next_attempt_at": now if done else now + conf.lease(),
        "deadline": now + conf.step_deadline() if step in BEFORE_PIVOT else None,
        "last_error": "",
        **(saga_fields or {}),
    }
    try:
        with atomic("orders"):
            moved = SagaState.objects.filter(
                order_id=state.order_id,
                step=state.step,
                attempts=state.attempts,
                status=SagaStatus.ACTIVE,
            ).update(**fields)
            if not moved:
                raise _Stale
            if entries and (
                history.append(
                    order_id=state.order_id,
                    entries=entries,
                    now=now,
                    expected_status=expected_status,
                    new_status=new_status,
                    cancel_reason=cancel_reason,
                )
                is None
            ):
                raise _Stale
            if event is not None:
                publish(event)
    except _Stale:
        logger.info("saga of order %s moved on elsewhere; leaving it", state.order_id)
        return None
    for name, value in fields.items():
        setattr(state, name, value)
    return state


def _error_text(error: BaseException | str) -> str:
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"


def _retry(state: SagaState, error: BaseException | str, *, entry: Entry | None = None) -> None:
    """A failure: try the same step again after a backoff, or stop once a bounded step is out
    of attempts (NEEDS_ATTENTION)."""
    message = _error_text(error)
    if state.step in BOUNDED and state.attempts >= conf.compensation_max_attempts():
        _needs_attention(state, message)
        return
    now = timezone.now()
    delay = conf.retry_delay(state.attempts)
    with atomic("orders"):
        moved = SagaState.objects.filter(
            order_id=state.order_id,
            step=state.step,
            attempts=state.attempts,
            status=SagaStatus.ACTIVE,
        ).update(next_attempt_at=now + delay, last_error=message[:2000])
        if moved and entry is not None:
            history.append(order_id=state.order_id, entries=[entry], now=now)
    if not moved:
        return
    logger.warning(
        "saga of order %s: %s failed (attempt %d), retrying in %.1fs: %s",
        state.order_id,
        state.step,
        state.attempts,
        delay.total_seconds(),
        message,
    )
    if delay <= conf.max_countdown():
        enqueue(state.order_id, countdown=delay.total_seconds())


def _out_of_attempts(state: SagaState) -> bool:
    """A bounded step claimed more often than allowed (e.g. its runner keeps dying)."""
    return state.step in BOUNDED and state.attempts > conf.compensation_max_attempts()


def _needs_attention(state: SagaState, message: str) -> None:
    """Stop the saga for staff: no runner or sweep picks it up until it is resumed."""
    now = timezone.now()
    if state.step == SagaStep.REFUND_PAYMENT:
        entry = Entry(
            HistoryType.PAYMENT_REFUND_AWAITS_STAFF,
            {"reason": "the refund could not be completed automatically; our staff complete it"},
        )
    else:
        entry = Entry(
            HistoryType.ORDER_AWAITS_STAFF,
            {"reason": "processing stopped on an error; our staff complete it"},
        )
    with atomic("orders"):
        moved = SagaState.objects.filter(
            order_id=state.order_id,
            step=state.step,
            attempts=state.attempts,
            status=SagaStatus.ACTIVE,
        ).update(status=SagaStatus.NEEDS_ATTENTION, next_attempt_at=now, last_error=message[:2000])
        if moved:
            history.append(order_id=state.order_id, entries=[entry], now=now)
    if moved:
        logger.error(
            "saga of order %s needs attention: %s failed %d time(s); last error: %s",
            state.order_id,
            state.step,
            state.attempts,
            message,
        )


def saga_resume_needing_attention(*, order_id: UUID) -> bool:
    """Staff: run a saga stopped in NEEDS_ATTENTION again from its step, with fresh attempts.

    A refund the gateway rejected is resubmitted (under a new key) first.
    Returns False when the saga was not waiting for staff.
    """
    state = SagaState.objects.filter(order_id=order_id, status=SagaStatus.NEEDS_ATTENTION).first()
    if state is None:
        return False
    if state.step in REFUNDING:
        payments.resubmit_rejected_refund(order_id=order_id)
    with atomic("orders"):
        moved = SagaState.objects.filter(
            order_id=order_id, status=SagaStatus.NEEDS_ATTENTION, step=state.step
        ).update(status=SagaStatus.ACTIVE, attempts=0, next_attempt_at=timezone.now())
        if moved:
            enqueue_on_commit(order_id)
    if moved:
        logger.warning("saga of order %s resumed by staff at %s", order_id, state.step)
    return bool(moved)


def saga_mark_resolved(*, order_id: UUID, actor_id: UUID) -> bool:
    """Staff: close a saga stopped in NEEDS_ATTENTION that they finished by hand.

    For a case retrying cannot fix (e.g. a refund completed in the payment
    provider's dashboard): the saga goes to DONE without running its step, and
    its ``last_error`` keeps the step it stopped at and who closed it. Returns
    False when the saga was not waiting for staff.
    """
    state = SagaState.objects.filter(order_id=order_id, status=SagaStatus.NEEDS_ATTENTION).first()
    if state is None:
        return False
    note = f"resolved by staff {actor_id} at step {state.step}; last error: {state.last_error}"
    with atomic("orders"):
        moved = SagaState.objects.filter(
            order_id=order_id, status=SagaStatus.NEEDS_ATTENTION, step=state.step
        ).update(
            status=SagaStatus.DONE,
            step=SagaStep.DONE,
            deadline=None,
            last_error=note[:2000],
            updated_at=timezone.now(),
        )
    if moved:
        logger.warning(
            "saga of order %s marked resolved by staff %s at %s", order_id, actor_id, state.step
        )
    return bool(moved)


def _give_up_if_overdue(state: SagaState) -> SagaState | Literal[False] | None:
    """Before the pivot, a step past its deadline or attempts compensates instead of running.

    Returns False when the step may run; otherwise the outcome of compensating.
    """
    if state.step not in BEFORE_PIVOT:
        return False
    overdue = state.deadline is not None and timezone.now() > state.deadline
    if state.step == SagaStep.RESERVE_STOCK:
        if not overdue and state.attempts <= conf.step_max_attempts():
            return False
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
        return False
    return _payment_failed(state, "no answer from the payment gateway in time")


def _compensate_with(
    state: SagaState, *, reason: str, entry: Entry, release: bool, refund: bool
) -> SagaState | None:
    return _transition(
        state,
        step=SagaStep.COMPENSATE,
        entries=[entry],
        expected_status=OrderStatus.PENDING,
        saga_fields={"cancel_reason": reason, "release_stock": release, "refund_payment": refund},
    )


def _payment_failed(state: SagaState, detail: str) -> SagaState | None:
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
) -> SagaState | None:
    """Cancel a PENDING order that holds nothing more to give back (stock released or never
    reserved); with ``refund_error`` the refund that failed is left to the REFUND_PAYMENT step."""
    order = state.order
    event = OrderCancelled(order_id=order.id, user_id=order.user_id, reason=reason, payment=payment)
    fields: dict[str, Any] = {"cancel_reason": reason}
    if refund_error is not None:
        fields.update(_refund_later(state, refund_error))
    moved = _transition(
        state,
        step=SagaStep.DONE if refund_error is None else SagaStep.REFUND_PAYMENT,
        entries=[*entries, Entry(HistoryType.ORDER_CANCELLED, {"reason": reason}, event.event_id)],
        expected_status=OrderStatus.PENDING,
        new_status=OrderStatus.CANCELLED,
        cancel_reason=reason,
        event=event,
        saga_fields=fields,
    )
    return _refund_scheduled(moved, refund_error)


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
        "last_error": _error_text(error)[:2000],
    }


def _refund_scheduled(state: SagaState | None, error: BaseException | None) -> SagaState | None:
    """After moving to REFUND_PAYMENT: stop this run, send the retry (short) or leave it
    to the sweep."""
    if state is None or error is None:
        return state
    delay = conf.retry_delay(1)
    if delay <= conf.max_countdown():
        enqueue(state.order_id, countdown=delay.total_seconds())
    return None


def _refunded_entry(refund: PaymentInfo) -> Entry:
    return Entry(
        HistoryType.PAYMENT_REFUNDED,
        {"payment_id": str(refund.payment_id), "amount": str(refund.amount)},
    )


# --- Steps ------------------------------------------------------------------


def _reserve_stock(state: SagaState) -> SagaState | None:
    overdue = _give_up_if_overdue(state)
    if overdue is not False:
        return overdue
    order = state.order
    items = list(order.items.all())
    try:
        products = catalog.get_products([item.product_id for item in items])
        gone = [str(item.product_id) for item in items if item.product_id not in products]
        if gone:
            return _cancel_now(
                state,
                reason=CancelReason.PRODUCT_UNAVAILABLE,
                entries=[
                    Entry(
                        HistoryType.STOCK_RESERVATION_FAILED,
                        {"reason": "product unavailable", "product_ids": gone},
                    )
                ],
            )
        inventory.reserve_stock_for_order(
            order_id=order.id,
            lines=[StockLine(product_id=item.product_id, quantity=item.quantity) for item in items],
        )
    except OutOfStock as exc:
        return _cancel_now(
            state,
            reason=CancelReason.OUT_OF_STOCK,
            entries=[
                Entry(
                    HistoryType.STOCK_RESERVATION_FAILED,
                    {
                        "reason": "out of stock",
                        "product_ids": [str(p) for p in getattr(exc, "product_ids", ())],
                    },
                )
            ],
        )
    except ReservationNotHeld:
        # Reserved earlier, then released (expired) before we recorded it: nothing is held.
        return _cancel_now(
            state,
            reason=CancelReason.OUT_OF_STOCK,
            entries=[
                Entry(
                    HistoryType.STOCK_RESERVATION_FAILED,
                    {"reason": "reservation released before it was recorded"},
                )
            ],
        )
    except InventoryError as exc:
        # Any other refusal of a well-formed request (e.g. a product inventory does not know).
        return _cancel_now(
            state,
            reason=CancelReason.PRODUCT_UNAVAILABLE,
            entries=[Entry(HistoryType.STOCK_RESERVATION_FAILED, {"reason": str(exc)})],
        )
    except Exception as exc:
        _retry(state, exc)
        return None
    return _transition(
        state,
        step=SagaStep.CHARGE_PAYMENT,
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
    )


def _charge_payment(state: SagaState) -> SagaState | None:
    overdue = _give_up_if_overdue(state)
    if overdue is not False:
        return overdue
    order = state.order
    try:
        payment = payments.charge_for_order(
            order_id=order.id,
            amount=order.total,
            currency=order.currency,
            payment_token=order.payment_token,
        )
    except ChargeDeclined as exc:
        return _compensate_with(
            state,
            reason=CancelReason.PAYMENT_DECLINED,
            entry=Entry(HistoryType.PAYMENT_DECLINED, {"detail": str(exc)}),
            release=True,
            refund=False,
        )
    except PaymentGatewayUnavailable as exc:
        if state.attempts >= conf.payment_max_attempts():
            return _payment_failed(state, str(exc))
        _retry(
            state,
            exc,
            entry=Entry(
                HistoryType.PAYMENT_RETRY_SCHEDULED,
                {"attempt": state.attempts, "error": str(exc)},
            ),
        )
        return None
    except PaymentError as exc:
        # Refused for a reason other than a decline (e.g. an amount it cannot take).
        return _payment_failed(state, str(exc))
    except Exception as exc:
        _retry(state, exc)
        return None
    return _transition(
        state,
        step=SagaStep.CONFIRM_ORDER,
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
    )


def _confirm_order(state: SagaState) -> SagaState | None:
    if _out_of_attempts(state):
        _needs_attention(state, state.last_error or "out of attempts")
        return None
    order = state.order
    try:
        inventory.commit_stock_for_order(order_id=order.id)
    except ReservationNotHeld:
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
    except Exception as exc:
        # After the pivot only forward: retry the commit (bounded, then staff).
        _retry(state, exc)
        return None
    event = OrderConfirmed(
        order_id=order.id, user_id=order.user_id, total=order.total, currency=order.currency
    )
    return _transition(
        state,
        step=SagaStep.DONE,
        entries=[Entry(HistoryType.ORDER_CONFIRMED, {}, event.event_id)],
        expected_status=OrderStatus.PENDING,
        new_status=OrderStatus.CONFIRMED,
        event=event,
    )


def _compensate(state: SagaState) -> SagaState | None:
    if _out_of_attempts(state):
        _needs_attention(state, state.last_error or "out of attempts")
        return None
    order = state.order
    reason = state.cancel_reason or CancelReason.OUT_OF_STOCK
    entries: list[Entry] = []
    try:
        if state.release_stock:
            inventory.release_stock_for_order(order_id=order.id, reason=reason)
            entries.append(Entry(HistoryType.STOCK_RELEASED, {}))
    except Exception as exc:
        # Compensations are retried (bounded, then staff).
        _retry(state, exc)
        return None
    if not state.refund_payment:
        return _cancel_now(state, reason=reason, entries=entries)
    try:
        refund = payments.refund_for_order(order_id=order.id)
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


def _refund_and_restock(state: SagaState) -> SagaState | None:
    if _out_of_attempts(state):
        _needs_attention(state, state.last_error or "out of attempts")
        return None
    order_id = state.order_id
    try:
        # Stock first: it never waits for the refund.
        inventory.restock_for_order(order_id=order_id)
    except Exception as exc:
        _retry(state, exc)
        return None
    entries = [Entry(HistoryType.STOCK_RESTOCKED, {})]
    try:
        refund = payments.refund_for_order(order_id=order_id)
    except Exception as exc:
        moved = _transition(
            state,
            step=SagaStep.REFUND_PAYMENT,
            entries=[*entries, _REFUND_PENDING],
            saga_fields=_refund_later(state, exc),
        )
        return _refund_scheduled(moved, exc)
    if refund is not None:
        entries.insert(0, _refunded_entry(refund))
    return _transition(state, step=SagaStep.DONE, entries=entries)


def _refund_payment(state: SagaState) -> SagaState | None:
    """The order is cancelled and its stock back; only the refund is left."""
    if _out_of_attempts(state):
        _needs_attention(state, state.last_error or "out of attempts")
        return None
    try:
        refund = payments.refund_for_order(order_id=state.order_id)
    except PaymentRefundRejected as exc:
        # Final for its key: retrying cannot help, only staff resubmitting it.
        _needs_attention(state, _error_text(exc))
        return None
    except Exception as exc:
        _retry(state, exc)
        return None
    if refund is None:
        entry = Entry(
            HistoryType.PAYMENT_NOT_TAKEN,
            {"reason": "the payment gateway confirmed that no payment was taken"},
        )
    else:
        entry = _refunded_entry(refund)
    return _transition(state, step=SagaStep.DONE, entries=[entry])


def _finished(state: SagaState) -> None:
    return None


_STEPS: dict[str, Callable[[SagaState], SagaState | None]] = {
    SagaStep.RESERVE_STOCK: _reserve_stock,
    SagaStep.CHARGE_PAYMENT: _charge_payment,
    SagaStep.CONFIRM_ORDER: _confirm_order,
    SagaStep.COMPENSATE: _compensate,
    SagaStep.REFUND_AND_RESTOCK: _refund_and_restock,
    SagaStep.REFUND_PAYMENT: _refund_payment,
    SagaStep.DONE: _finished,
}
