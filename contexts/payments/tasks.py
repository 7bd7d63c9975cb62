"""Celery tasks of the payments context (thin: each calls one service), on the payments queue.

- ``payments.reconcile_payments`` (beat): settle every payment whose outcome was
  left unknown, or whose money is still owed to a cancelled order, once it has
  not changed for ``PAYMENTS_RECONCILE_AFTER_SECONDS`` (docs/payments-gateway.md).
"""

from __future__ import annotations

from celery import shared_task

from contexts.payments import services


@shared_task(name="payments.reconcile_payments")
def reconcile_payments() -> int:
    """Settle payments left pending or unknown; returns how many were settled."""
    return services.payments_reconcile()
