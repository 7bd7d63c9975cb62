"""The orders context's own event subscriptions: none today.

The order list's read model (``OrderSummary``) is written in the transaction
that changes the order (placement in ``services.py``, every status change in
``history.append``), so the orders context no longer projects its own events
through the broker. The handlers that did are retired below: outbox rows and
queued messages written by older deployments still name them, and their
deliveries are closed and confirmed without running anything (see
``contexts.kernel.bus.retire``).
"""

from __future__ import annotations

from contexts.kernel.bus import retire

for _removed in (
    "orders.project_order_placed",
    "orders.project_order_confirmed",
    "orders.project_order_cancelled",
):
    retire(
        _removed,
        reason="the order list's read model is written in the order's own transaction",
    )
