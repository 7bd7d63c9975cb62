"""Celery tasks of the event machinery (thin: each calls one kernel function).

- ``<context>.deliver_events``, one per context, routed to that context's
  queue: deliver a batch of (handler id, envelope) deliveries to the context's
  handlers. When the context's database is unreachable the task is retried (a
  Celery retry publishes the message again before this one is acknowledged;
  acknowledging a failure would lose it, and rejecting it without requeue on
  Redis would drop it).
- ``<context>.deliver_event``: one delivery, the same way; relays no longer
  send it, and it stays for messages queued by older deployments.
- ``<context>.confirm_deliveries``, one per context, on its queue: consumers
  confirm deliveries of the context's events (many per message).
- ``kernel.sweep_events`` (beat, every ``EVENT_SWEEP_SECONDS``): relay what the
  workers' relay loops have not, resend due retries, and re-drive deliveries their
  consumers have not confirmed.
- ``kernel.purge_event_history`` (beat, daily): retention, in budgeted runs that
  continue until the backlog is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import shared_task

from contexts.kernel import delivery, relay, retention
from contexts.kernel.databases import CONTEXTS
from contexts.kernel.isolation import isolated


def _retry_when_database_unreachable(task, exc: Exception):
    """The Retry to raise: the same message again after a short, growing countdown."""
    return task.retry(
        exc=exc, countdown=delivery.database_retry_countdown(task.request.retries), max_retries=None
    )


def _delivery_task(context: str):
    def deliver_events(self, deliveries: list[dict[str, Any]]) -> list[str]:
        try:
            return delivery.deliver_batch(context=context, deliveries=deliveries)
        except delivery.DATABASE_ERRORS as exc:
            raise _retry_when_database_unreachable(self, exc) from exc

    deliver_events.__name__ = deliver_events.__qualname__ = f"deliver_{context}_events"
    return shared_task(name=relay.deliver_task_name(context), bind=True)(deliver_events)


def _single_delivery_task(context: str):
    def deliver_event(self, handler: str, event: dict[str, Any]) -> str:
        try:
            return delivery.deliver(context=context, handler=handler, event=event)
        except delivery.DATABASE_ERRORS as exc:
            raise _retry_when_database_unreachable(self, exc) from exc

    deliver_event.__name__ = deliver_event.__qualname__ = f"deliver_{context}_event"
    return shared_task(name=relay.single_deliver_task_name(context), bind=True)(deliver_event)


def _confirmation_task(context: str):
    def confirm_deliveries(self, confirmations: list[list[str]]) -> int:
        try:
            return relay.confirm_deliveries(context=context, confirmations=confirmations)
        except delivery.DATABASE_ERRORS as exc:
            raise _retry_when_database_unreachable(self, exc) from exc

    confirm_deliveries.__name__ = confirm_deliveries.__qualname__ = f"confirm_{context}_deliveries"
    return shared_task(name=relay.confirmation_task_name(context), bind=True)(confirm_deliveries)


#: One batch delivery task per context, so each runs on that context's own queue.
DELIVERY_TASKS = {context: _delivery_task(context) for context in CONTEXTS}
#: The single-delivery tasks of older deployments, still consumed.
SINGLE_DELIVERY_TASKS = {context: _single_delivery_task(context) for context in CONTEXTS}
#: One confirmation task per context (as publisher), on its own queue.
CONFIRMATION_TASKS = {context: _confirmation_task(context) for context in CONTEXTS}


#: The sweep's jobs, each run for one database at a time (``databases=[alias]``).
SWEEP_JOBS: dict[str, Callable[..., int]] = {
    "relayed": relay.relay_outbox,
    "redriven": delivery.redrive_due_deliveries,
    "unconfirmed_redriven": relay.redrive_unconfirmed,
}


@shared_task(name="kernel.sweep_events")
def sweep_events() -> dict[str, Any]:
    """Relay unpublished outbox rows, resend deliveries whose retry is due, and
    re-drive deliveries their consumers have not confirmed.

    Each job runs for each database on its own: a database that fails is
    logged and skipped (``failed``), and the other databases and jobs go on.
    """
    result: dict[str, Any] = dict.fromkeys(SWEEP_JOBS, 0)
    failed: list[str] = []
    for alias in relay.database_contexts():
        for key, job in SWEEP_JOBS.items():
            if alias in failed:
                break  # the next sweep, seconds away, tries this database again
            with isolated(alias, f"sweep ({key})", failed=failed):
                result[key] += job(databases=[alias])
    result["failed"] = failed
    return result


@shared_task(name="kernel.purge_event_history", bind=True)
def purge_event_history(self) -> dict[str, Any]:
    """Delete completed event rows older than EVENT_RETENTION_DAYS, within the time budget.

    A run that stopped on its budget with rows left enqueues the next run at
    once, so a backlog drains over consecutive runs instead of one a day.
    """
    result = retention.purge_event_history()
    if not result["complete"]:
        self.apply_async()
    return result
