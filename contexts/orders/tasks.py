"""Celery tasks of the orders context (thin: each calls one service), on the orders queue,
and the saga loop.

- ``orders.sagas`` (a background loop, ``run_due_sagas``): every pool process
  of a worker consuming the orders queue runs it; woken by ``NOTIFY
  orders_saga`` when an order is placed, and polling for retries and leases
  that came due, it claims and runs due sagas in batches. No broker message
  per order.
- ``orders.resume_stalled_sagas`` (beat): the safety net; runs sagas the loop
  missed (no worker runs it, a dead worker's lease ended); also sent once when
  a worker starts, so a restart does not wait for beat.
- ``orders.advance_saga``: run one order's saga; nothing sends it any more, but
  messages queued by an older deployment are still accepted.
- ``orders.purge_idempotency_keys`` (beat, e.g. hourly): forget expired keys.
"""

from __future__ import annotations

import logging
from uuid import UUID

from celery import current_app, shared_task
from celery.signals import worker_ready

from contexts.kernel.correlation import reset_correlation_id, set_correlation_id
from contexts.kernel.wakeup import loop
from contexts.orders import saga, services

logger = logging.getLogger(__name__)


@loop(
    name="orders.sagas",
    context="orders",
    channel=saga.CHANNEL,
    per_process=True,
)
def run_due_sagas(limit: int) -> int:
    return saga.saga_run_due(limit)


@shared_task(name=saga.TASK_NAME)
def advance_saga(order_id: str, correlation_id: str | None = None) -> bool:
    token = set_correlation_id(correlation_id or None)
    try:
        return saga.saga_advance(order_id=UUID(order_id))
    finally:
        reset_correlation_id(token)


@shared_task(name="orders.resume_stalled_sagas")
def resume_stalled_sagas() -> int:
    return saga.saga_resume_stalled()


@shared_task(name="orders.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    return services.idempotency_keys_purge()


@worker_ready.connect
def resume_stalled_sagas_on_start(sender: object = None, **kwargs: object) -> None:
    """A worker that starts (e.g. after a crash) asks for a sweep at once.

    Sent as a task rather than run here: the main process of a prefork worker
    keeps no database connection of its own.
    """
    try:
        current_app.send_task("orders.resume_stalled_sagas", retry=False)
    except Exception:  # broker gone again: beat's sweep follows anyway
        logger.warning("could not send the start-up saga sweep")
