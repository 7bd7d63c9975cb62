"""Arrange helpers for the orders' tests.

Other contexts' data is arranged through their HTTP API (their public
surface), never their models or factories: a context's tests obey its
import boundaries.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contexts.orders import saga
from contexts.orders.models import Order, SagaStatus


@pytest.fixture
def run_saga(settings) -> Callable[[str], Order]:
    """Drive an order's saga in this process until it is finished; returns the order.

    Retries are due at once (no backoff), so each pass makes progress.
    """
    settings.ORDERS_SAGA_RETRY_BASE_SECONDS = 0

    def run(order_id, *, max_passes: int = 20) -> Order:
        for _ in range(max_passes):
            saga.saga_advance(order_id=order_id)
            order = Order.objects.select_related("saga").get(pk=order_id)
            if order.saga.status == SagaStatus.DONE:
                return order
        raise AssertionError(f"saga of {order_id} not finished after {max_passes} passes")

    return run


@pytest.fixture
def orders_outbox():
    """The orders context's outbox rows (on the orders' own database in split mode)."""
    from contexts.kernel.databases import database_for
    from contexts.kernel.models import OutboxMessage

    return OutboxMessage.objects.using(database_for("orders"))
