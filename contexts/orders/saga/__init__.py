"""The order placement saga: reserve stock -> charge payment -> confirm.

Orchestrated and persistent: ``SagaState`` holds the step each order's saga
is at. The package has three parts:

- ``engine.py``: the engine, which knows nothing of orders' business. It
  claims many due sagas at once (``FOR UPDATE SKIP LOCKED``, lease and
  attempt in the same statement), keeps their leases alive with one heartbeat
  thread, groups them by step, writes each group's outcomes in one
  ``atomic("orders")`` fenced per order on step and attempt, retries with
  backoff persisted in ``next_attempt_at``, and stops a bounded step out of
  attempts in ``NEEDS_ATTENTION``.
- ``steps.py``: the order's steps (reserve stock, charge, confirm,
  compensate, refund and restock, refund), each run for a whole group with
  one call per other context, returning one outcome per order
  (``outcomes.py``).
- ``staff.py``: resuming a saga stopped for staff, or closing it by hand.

The saga runs in a background loop (``tasks.run_due_sagas``, woken by
``NOTIFY orders_saga`` when an order is placed, polling for retries that came
due); ``orders.resume_stalled_sagas`` (beat, and once when a worker starts)
is the safety net. See docs/order-saga.md.
"""

from __future__ import annotations

from contexts.orders.saga.engine import (
    CHANNEL,
    saga_advance,
    saga_advance_claimed,
    saga_resume_stalled,
    saga_run_due,
    start_refund_and_restock,
    wake_on_commit,
)
from contexts.orders.saga.staff import saga_mark_resolved, saga_resume_needing_attention

#: The task name of one order's saga run; still accepted from older deployments' queues.
TASK_NAME = "orders.advance_saga"

__all__ = [
    "CHANNEL",
    "TASK_NAME",
    "saga_advance",
    "saga_advance_claimed",
    "saga_mark_resolved",
    "saga_resume_needing_attention",
    "saga_resume_stalled",
    "saga_run_due",
    "start_refund_and_restock",
    "wake_on_commit",
]
