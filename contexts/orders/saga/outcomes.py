"""What a step decides for each saga it ran: move on, retry later, or stop for staff.

A step (``steps.py``) never writes the saga itself: it returns one outcome per
saga, and the engine (``engine.py``) writes the outcomes of the whole group in
one ``atomic("orders")``, each fenced on the step and attempt its runner
claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contexts.kernel.events import DomainEvent
from contexts.orders.history import Entry
from contexts.orders.models import SagaState, SagaStep

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


@dataclass
class Move:
    """Move the saga to ``step`` and record the order's change (history, status, event)."""

    state: SagaState
    step: str
    entries: Sequence[Entry] = ()
    #: The order must still be in this status (a conditional update), else nothing is written.
    expected_status: str | None = None
    new_status: str | None = None
    cancel_reason: str | None = None
    event: DomainEvent | None = None
    #: Saga fields to set besides the defaults of a move (fresh lease, attempt 1, ...).
    saga_fields: dict[str, Any] | None = None
    #: The saga waits after the move (its next attempt is due later): this run stops it.
    wait: bool = False
    #: Written together with the saga's next write instead of in a transaction of its own:
    #: for a move whose step is safe to repeat after a crash (every call it made is
    #: idempotent per order), since until then the saga's row still holds the step before.
    with_next_write: bool = False


@dataclass
class Retry:
    """A failure: the same step again after a backoff (a bounded step out of attempts stops
    for staff instead)."""

    state: SagaState
    error: BaseException | str
    entry: Entry | None = None


@dataclass
class NeedsAttention:
    """Stop the saga for staff: no runner or sweep picks it up until it is resumed."""

    state: SagaState
    message: str


Outcome = Move | Retry | NeedsAttention


def error_text(error: BaseException | str) -> str:
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"
