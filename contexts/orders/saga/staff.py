"""What staff do with a saga stopped in NEEDS_ATTENTION: resume it, or close it by hand."""

from __future__ import annotations

import logging
from uuid import UUID

from django.utils import timezone

from contexts.kernel.transactions import atomic
from contexts.orders.models import SagaState, SagaStatus, SagaStep
from contexts.orders.saga.engine import wake_on_commit
from contexts.orders.saga.outcomes import REFUNDING
from contexts.payments import public as payments

logger = logging.getLogger(__name__)


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
            wake_on_commit()
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
