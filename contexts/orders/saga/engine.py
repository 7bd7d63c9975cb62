"""The saga engine: claim due sagas in batches, lease them, fence every write, retry.

- **Claim.** One ``UPDATE ... WHERE order_id IN (SELECT ... FOR UPDATE SKIP
  LOCKED LIMIT n) RETURNING order_id`` takes up to ``n`` due sagas (``status =
  ACTIVE AND next_attempt_at <= now``), sets their lease (``next_attempt_at =
  now + lease``) and counts the attempt; on PostgreSQL the same statement
  returns them joined to their orders. Runners side by side skip each
  other's rows.
- **Lease.** One heartbeat thread per batch (``_Hold``) keeps the leases
  of every saga the runner still holds alive; a saga whose lease could not be
  renewed before it ended is *lost* and the runner writes nothing more for it.
- **Batch.** The claimed sagas are grouped by step; each step runs once for
  its group (``steps.py``: one call per other context), and the outcomes of
  the group are written in one ``atomic("orders")``. A saga that moved on runs
  its next step in the same run, until every saga is final or waiting.
- **Fewer writes.** A move a step marks ``with_next_write`` (reserved, then
  captured) is applied to the runner's copy only and written with the saga's
  next write: on the happy path the reservation, the capture and the
  confirmation are one ``atomic("orders")``. A crash before it leaves the
  row at the step the runner claimed, and the next runner repeats from there
  (steps.py makes that safe).
- **Fence.** That transaction first locks the group's saga rows and keeps only
  those still at the step and attempt their runner claimed: a runner that lost
  an order's lease (another claimed it since) writes nothing for that order,
  and the others go on. The order's status changes are conditional as well.
- **Retry.** A failure stores ``next_attempt_at = now + backoff``; the loop
  (polling every few seconds) or the sweep picks it up when due. A bounded
  step out of attempts stops in ``NEEDS_ATTENTION``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import DatabaseError, connections
from django.db.models import F, Q
from django.utils import timezone

from contexts.kernel.bulk import from_rows, update_rows
from contexts.kernel.correlation import get_correlation_id, reset_correlation_id, set_correlation_id
from contexts.kernel.databases import database_for
from contexts.kernel.outbox import publish_all
from contexts.kernel.transactions import atomic
from contexts.kernel.wakeup import notify
from contexts.orders import conf, history
from contexts.orders.history import Append, Entry
from contexts.orders.models import (
    CancelReason,
    HistoryType,
    Order,
    SagaState,
    SagaStatus,
    SagaStep,
)
from contexts.orders.saga.outcomes import (
    BEFORE_PIVOT,
    BOUNDED,
    Move,
    NeedsAttention,
    Outcome,
    Retry,
    error_text,
)
from contexts.orders.saga.steps import STEPS

logger = logging.getLogger(__name__)

#: The LISTEN channel of the saga loop (``tasks.run_due_sagas``).
CHANNEL = "orders_saga"
#: More steps than a saga can take in one run; a guard against a loop bug.
MAX_STEPS_PER_RUN = 8
#: Every field a write may change (a write stores the runner's whole view of the row).
_WRITTEN = (
    "step",
    "status",
    "attempts",
    "next_attempt_at",
    "deadline",
    "cancel_reason",
    "release_stock",
    "refund_payment",
    "last_error",
    "updated_at",
)


def wake_on_commit() -> None:
    """Inside ``atomic("orders")``: wake the saga loop once the transaction commits."""
    notify(CHANNEL, context="orders")


# --- Claiming -----------------------------------------------------------------


def claim_due(*, limit: int, now: datetime, due_by: datetime | None = None) -> list[SagaState]:
    """Claim up to ``limit`` active sagas due by ``due_by`` (default: now), oldest first.

    On PostgreSQL one statement claims and loads them with their orders (the
    ``UPDATE ... RETURNING`` in a ``WITH`` joined to the orders); elsewhere
    (SQLite) the claim returns the ids and a second query loads them.
    """
    if limit <= 0:
        return []
    connection = connections[database_for("orders")]
    qn = connection.ops.quote_name
    saga, order = SagaState._meta, Order._meta

    def column(field: Any) -> str:  # a concrete field's column, quoted
        return qn(field.column)

    table, pk = qn(saga.db_table), column(saga.pk)
    next_at, attempts, status = (
        column(saga.get_field(name)) for name in ("next_attempt_at", "attempts", "status")
    )
    field = saga.get_field("next_attempt_at")
    skip_locked = connection.features.has_select_for_update_skip_locked
    claim = (
        f"UPDATE {table} SET {next_at} = %s, {attempts} = {attempts} + 1"
        f" WHERE {pk} IN (SELECT {pk} FROM {table} WHERE {status} = %s AND {next_at} <= %s"
        f" ORDER BY {next_at} LIMIT %s{' FOR UPDATE SKIP LOCKED' if skip_locked else ''})"
    )
    params = [
        field.get_db_prep_value(now + conf.lease(), connection),
        SagaStatus.ACTIVE,
        field.get_db_prep_value(due_by or now, connection),
        limit,
    ]
    if connection.vendor != "postgresql":
        with atomic("orders"), connection.cursor() as cursor:
            cursor.execute(f"{claim} RETURNING {pk}", params)
            ids = [saga.pk.to_python(row[0]) for row in cursor.fetchall()]
        return _load(ids)
    saga_fields, order_fields = saga.concrete_fields, order.concrete_fields
    columns = ", ".join(
        [f"claimed.{column(f)}" for f in saga_fields] + [f"o.{column(f)}" for f in order_fields]
    )
    sql = (
        f"WITH claimed AS ({claim} RETURNING *) SELECT {columns} FROM claimed"
        f" JOIN {qn(order.db_table)} o ON o.{column(order.pk)} = claimed.{pk}"
        f" ORDER BY o.{column(order.get_field('created_at'))}, claimed.{pk}"
    )
    with atomic("orders"), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Oldest order first: in a batch it is served first (e.g. for the last units of stock).
    split = len(saga_fields)
    states = from_rows(SagaState, connection.alias, [row[:split] for row in rows])
    orders = from_rows(Order, connection.alias, [row[split:] for row in rows])
    for state, order in zip(states, orders, strict=True):
        state.order = order
    return states


def claim_one(*, order_id: UUID, now: datetime) -> SagaState | None:
    """Claim the order's saga if it is due (one conditional update)."""
    claimed = SagaState.objects.filter(
        order_id=order_id, status=SagaStatus.ACTIVE, next_attempt_at__lte=now
    ).update(next_attempt_at=now + conf.lease(), attempts=F("attempts") + 1)
    if not claimed:
        return None
    return SagaState.objects.select_related("order").get(order_id=order_id)


def _load(ids: Sequence[UUID]) -> list[SagaState]:
    if not ids:
        return []
    # Oldest order first: in a batch it is served first (e.g. for the last units of stock).
    return list(
        SagaState.objects.select_related("order")
        .filter(order_id__in=ids)
        .order_by("order__created_at", "order_id")
    )


# --- Leases ---------------------------------------------------------------------


class _Hold:
    """What a runner holds while it works: the leases, kept alive from one thread, and the
    moves it has not written yet.

    **Leases.** Every third of the lease the heartbeat thread moves
    ``next_attempt_at`` (the lease's end) of every held saga a lease ahead, in
    one statement, conditionally per saga: same step, same attempt and the
    lease's end it last knew, so it never overwrites the runner's own writes
    (a transition's new lease, a retry's due time) nor another runner's claim.
    The lease thus always exceeds the time between two heartbeats, however long
    a step runs; when the runner dies, its heartbeat dies with it and its sagas
    are due one lease later. A saga whose lease the heartbeat cannot extend
    before it ends is *lost* (``lost``): the runner then writes nothing more
    for it.

    **Unwritten moves.** A move marked ``with_next_write`` (steps.py) is kept
    here, applied to the runner's copy of the saga only, and written with the
    saga's next write. Until then the row still holds the step and attempt the
    runner claimed (``written``): that is what the heartbeat extends and what
    the write is fenced on.
    """

    def __init__(self, states: Iterable[SagaState]) -> None:
        self._lock = threading.Lock()
        self._held: dict[UUID, SagaState] = {state.order_id: state for state in states}
        #: Each held saga's row as its runner last read or wrote it.
        self.written = {order_id: _snapshot(state) for order_id, state in self._held.items()}
        self._seen = dict(self.written)
        self._expires = {order_id: state.next_attempt_at for order_id, state in self._held.items()}
        self._unwritten: dict[UUID, list[Move]] = {}
        self.lost: set[UUID] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"saga-heartbeat-{len(self._held)}", daemon=True
        )

    def __enter__(self) -> _Hold:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def release(self, order_ids: Iterable[UUID]) -> None:
        """The runner is done with these sagas (final, waiting, or moved on elsewhere)."""
        with self._lock:
            for order_id in order_ids:
                self._held.pop(order_id, None)
                self._unwritten.pop(order_id, None)

    def keep_unwritten(self, move: Move) -> None:
        self._unwritten.setdefault(move.state.order_id, []).append(move)

    def take_unwritten(self, order_id: UUID) -> list[Move]:
        return self._unwritten.pop(order_id, [])

    def has_written(self, state: SagaState) -> None:
        with self._lock:
            self.written[state.order_id] = _snapshot(state)

    def _beat(self) -> None:
        interval = conf.lease().total_seconds() / 3
        try:
            while not self._stop.wait(interval):
                self._extend()
        finally:
            connections.close_all()  # this thread's own connections only

    def _extend(self) -> None:
        with self._lock:
            held = {
                order_id: self.written[order_id]
                for order_id in self._held
                if order_id not in self.lost
            }
        if not held:
            return
        for order_id, snapshot in held.items():
            if snapshot != self._seen.get(order_id):
                # The runner moved the saga (a write sets a fresh lease): follow it.
                self._seen[order_id] = snapshot
                self._expires[order_id] = snapshot[2]
        renewed = timezone.now() + conf.lease()
        fence = Q()
        for order_id, (step, attempts, _) in held.items():
            fence |= Q(
                order_id=order_id,
                step=step,
                attempts=attempts,
                next_attempt_at=self._expires[order_id],
            )
        extended: set[UUID] = set()
        try:
            moved = SagaState.objects.filter(fence, status=SagaStatus.ACTIVE).update(
                next_attempt_at=renewed
            )
            if moved == len(held):
                extended = set(held)
            elif moved:
                extended = set(
                    SagaState.objects.filter(
                        order_id__in=list(held), next_attempt_at=renewed
                    ).values_list("order_id", flat=True)
                )
        except DatabaseError as exc:
            logger.warning("saga heartbeat: could not extend the leases: %s", exc)
            connections[database_for("orders")].close_if_unusable_or_obsolete()
        now = timezone.now()
        for order_id in held:
            if order_id in extended:
                self._expires[order_id] = renewed
            elif now >= self._expires[order_id]:
                # Not extended before it ended: another runner may claim it now.
                # (Not extended but still running: the runner's own write just
                # changed the row, followed on the next beat.)
                self.lost.add(order_id)
                logger.warning("saga of order %s: lease lost; the runner stops", order_id)


def _snapshot(state: SagaState) -> tuple[str, int, datetime]:
    return state.step, state.attempts, state.next_attempt_at


# --- Running ------------------------------------------------------------------


def run(states: Sequence[SagaState]) -> None:
    """Run claimed sagas step by step, a group per step, until each is final or waiting."""
    if not states:
        return
    one = states[0].correlation_id if len(states) == 1 else None
    token = set_correlation_id(one or get_correlation_id())
    try:
        with _Hold(states) as hold:
            active = list(states)
            for _ in range(MAX_STEPS_PER_RUN):
                # A saga whose lease was lost is left to its new runner before it calls
                # another context again (the write would be refused anyway).
                active = [state for state in active if state.order_id not in hold.lost]
                going_on: list[SagaState] = []
                for step, group in _by_step(active).items():
                    going_on += apply(STEPS[step](group), hold=hold)
                still = {state.order_id for state in going_on}
                hold.release(s.order_id for s in active if s.order_id not in still)
                active = going_on
                if not active:
                    return
            for state in active:
                logger.error("saga of order %s did not settle in one run", state.order_id)
    finally:
        reset_correlation_id(token)


def _by_step(states: Sequence[SagaState]) -> dict[str, list[SagaState]]:
    groups: dict[str, list[SagaState]] = {}
    for state in states:
        groups.setdefault(state.step, []).append(state)
    return groups


@dataclass
class _Write:
    """One saga's outcome as rows: its new saga fields, history, status and event."""

    state: SagaState
    fields: dict[str, Any]
    append: Append | None
    event: Any
    going_on: bool
    log: Any = None


def apply(outcomes: Sequence[Outcome], *, hold: _Hold | None = None) -> list[SagaState]:
    """Write the outcomes of one step's group in one ``atomic("orders")``, each fenced.

    Returns the sagas that moved to a next step this runner still holds (to run
    on at once). Nothing is written for a saga whose lease was lost, or that is
    no longer at the step and attempt its runner claimed. Within a run
    (``hold``), a move marked ``with_next_write`` is not written now: the
    saga's next write carries it.
    """
    now = timezone.now()
    writes: list[_Write] = []
    going_on: list[SagaState] = []
    for outcome in outcomes:
        state = outcome.state
        if hold is not None and state.order_id in hold.lost:
            # Another runner may hold the saga by now; the fence would refuse us anyway.
            logger.info("saga of order %s: lease lost; leaving it", state.order_id)
            continue
        write = _write_for(outcome, now)
        if hold is None:
            writes.append(write)
        elif isinstance(outcome, Move) and outcome.with_next_write and write.going_on:
            hold.keep_unwritten(outcome)
            _apply_fields(write)
            going_on.append(state)
        else:
            writes.append(_with_unwritten(write, hold.take_unwritten(state.order_id)))
    if not writes:
        return going_on
    if hold is not None:
        # A saga that stops in this run (final, waiting for a retry, for staff) is let go
        # before its write: a later beat must not move its due time to a lease's end.
        hold.release(write.state.order_id for write in writes if not write.going_on)
    by_order = {write.state.order_id: write for write in writes}
    with atomic("orders"):
        # One statement locks the group's saga rows and their order rows.
        held = {
            state.order_id: state
            for state in SagaState.objects.select_for_update()
            .select_related("order")
            .filter(order_id__in=list(by_order), status=SagaStatus.ACTIVE)
            .order_by("order_id")
            .only(
                "order_id",
                "step",
                "attempts",
                "order__id",
                "order__status",
                "order__cancel_reason",
                "order__updated_at",
                "order__last_sequence",
            )
        }
        fenced = [
            write
            for write in writes
            if (row := held.get(write.state.order_id)) is not None
            and (row.step, row.attempts) == _claimed(write.state, hold)
        ]
        # The entries and the events of the writes appending to a history: one insert.
        appended = history.append_many(
            [write.append for write in fenced if write.append is not None],
            now=now,
            locked={order_id: row.order for order_id, row in held.items()},
            events={
                w.state.order_id: w.event
                for w in fenced
                if w.append is not None and w.event is not None
            },
        )
        done = [w for w in fenced if w.append is None or w.state.order_id in appended]
        if done:
            update_rows(
                [
                    SagaState(order_id=w.state.order_id, **_row(w.state, w.fields, now))
                    for w in done
                ],
                list(_WRITTEN),
            )
        publish_all(
            [write.event for write in done if write.append is None and write.event is not None]
        )
    written = {write.state.order_id for write in done}
    for write in writes:
        if write.state.order_id not in written:
            logger.info("saga of order %s moved on elsewhere; leaving it", write.state.order_id)
            continue
        _apply_fields(write)
        if hold is not None:
            hold.has_written(write.state)
        if write.log is not None:
            write.log()
        if write.going_on:
            going_on.append(write.state)
    return going_on


def _claimed(state: SagaState, hold: _Hold | None) -> tuple[str, int]:
    """The step and attempt the saga's row holds as far as its runner knows."""
    if hold is None:
        return state.step, state.attempts
    step, attempts, _ = hold.written[state.order_id]
    return step, attempts


def _apply_fields(write: _Write) -> None:
    for name, value in write.fields.items():
        setattr(write.state, name, value)


def _with_unwritten(write: _Write, unwritten: Sequence[Move]) -> _Write:
    """``write`` carrying the history of the moves before it that were not written."""
    entries = [entry for move in unwritten for entry in move.entries]
    if not entries:
        return write
    # The moves kept for a later write change no status: they only require one.
    expected = next((m.expected_status for m in unwritten if m.expected_status), None)
    own = write.append
    write.append = Append(
        order_id=write.state.order_id,
        entries=[*entries, *(own.entries if own else ())],
        expected_status=(own.expected_status if own else None) or expected,
        new_status=own.new_status if own else None,
        cancel_reason=own.cancel_reason if own else None,
    )
    return write


def _row(state: SagaState, fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {name: getattr(state, name) for name in _WRITTEN}
    row.update(fields)
    row["updated_at"] = now
    return row


def _write_for(outcome: Outcome, now: datetime) -> _Write:
    state = outcome.state
    if isinstance(outcome, Retry):
        message = error_text(outcome.error)
        if state.step in BOUNDED and state.attempts >= conf.compensation_max_attempts():
            return _attention_write(state, message, now)
        delay = conf.retry_delay(state.attempts)
        return _Write(
            state=state,
            fields={"next_attempt_at": now + delay, "last_error": message[:2000]},
            append=(
                Append(order_id=state.order_id, entries=[outcome.entry])
                if outcome.entry is not None
                else None
            ),
            event=None,
            going_on=False,
            log=lambda: logger.warning(
                "saga of order %s: %s failed (attempt %d), retrying in %.1fs: %s",
                state.order_id,
                state.step,
                state.attempts,
                delay.total_seconds(),
                message,
            ),
        )
    if isinstance(outcome, NeedsAttention):
        return _attention_write(state, outcome.message, now)
    return _move_write(outcome, now)


def _move_write(move: Move, now: datetime) -> _Write:
    done = move.step == SagaStep.DONE
    fields: dict[str, Any] = {
        "step": move.step,
        "status": SagaStatus.DONE if done else SagaStatus.ACTIVE,
        "attempts": 0 if done else 1,
        "next_attempt_at": now if done else now + conf.lease(),
        "deadline": now + conf.step_deadline() if move.step in BEFORE_PIVOT else None,
        "last_error": "",
        **(move.saga_fields or {}),
    }
    append = None
    if move.entries:
        append = Append(
            order_id=move.state.order_id,
            entries=move.entries,
            expected_status=move.expected_status,
            new_status=move.new_status,
            cancel_reason=move.cancel_reason,
        )
    return _Write(
        state=move.state,
        fields=fields,
        append=append,
        event=move.event,
        going_on=not done and not move.wait,
    )


def _attention_write(state: SagaState, message: str, now: datetime) -> _Write:
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
    return _Write(
        state=state,
        fields={
            "status": SagaStatus.NEEDS_ATTENTION,
            "next_attempt_at": now,
            "last_error": message[:2000],
        },
        append=Append(order_id=state.order_id, entries=[entry]),
        event=None,
        going_on=False,
        log=lambda: logger.error(
            "saga of order %s needs attention: %s failed %d time(s); last error: %s",
            state.order_id,
            state.step,
            state.attempts,
            message,
        ),
    )


# --- Entry points ---------------------------------------------------------------


def saga_run_due(limit: int) -> int:
    """Claim up to ``limit`` due sagas and run them as one batch; returns how many.

    The saga loop (``tasks.run_due_sagas``) calls it with ``ENGINE_BATCH_SIZE``.
    """
    states = claim_due(limit=limit, now=timezone.now())
    run(states)
    return len(states)


def saga_advance(*, order_id: UUID) -> bool:
    """Run the order's saga (a batch of one) until it finishes or must wait.

    Returns False when there was nothing to do: the saga is finished, not due
    yet, or held by another runner.
    """
    state = claim_one(order_id=order_id, now=timezone.now())
    if state is None:
        return False
    run([state])
    return True


def saga_advance_claimed(*, order_id: UUID) -> None:
    """Run a saga this process has just claimed itself (e.g. after a customer cancel)."""
    state = SagaState.objects.select_related("order").filter(order_id=order_id).first()
    if state is not None and state.status == SagaStatus.ACTIVE:
        run([state])


def saga_resume_stalled(*, limit: int = 500) -> int:
    """The safety net: run sagas overdue for longer than the sweep's grace; returns how many.

    The loop runs due sagas within moments; a saga still due a grace later was
    missed (no worker runs the loop, a runner died and its lease ended, a
    lost wake-up). They are claimed like any batch (``FOR UPDATE SKIP
    LOCKED``, so sweeps and loops run side by side) and run here.
    """
    now = timezone.now()
    states = claim_due(limit=limit, now=now, due_by=now - conf.sweep_grace())
    if states:
        logger.info("resuming %d stalled saga(s)", len(states))
    run(states)
    return len(states)


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
