"""The monolith, payments and notifications as three deployments at once.

The topology of the extraction exercise, each on a database of its own,
sharing one Redis:

- the monolith, ``SHOP_CONTEXTS=users,catalog,inventory,orders`` with
  ``PAYMENTS_URL``: gunicorn, a worker and beat; it charges through payments
  and sends its events to notifications' queue;
- payments, ``SHOP_CONTEXTS=payments``: gunicorn (the internal API), a worker
  and beat;
- notifications, ``SHOP_CONTEXTS=notifications`` with ``USERS_URL``: gunicorn
  (``GET /api/notifications``), a worker and beat.

Orders placed through the monolith end as their payment token says, each
charged once on the payments deployment, each notified once on the
notifications deployment. The outages of one deployment at a time are in
``test_payments_extracted.py`` and ``test_notifications_extracted.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.extraction.deployments import ServiceDeployment, foreign_tables, running
from tests.extraction.test_notifications_extracted import (
    arrive,
    customer,
    ended,
    expected,
    place,
    product,
)
from tests.extraction.test_payments_extracted import MONOLITH_ENV, PAYMENTS_ENV, charges

pytestmark = pytest.mark.extraction

MONOLITH = "users,catalog,inventory,orders"


@pytest.fixture(scope="module")
def deployments(tmp_path_factory) -> Iterator[dict[str, ServiceDeployment]]:
    directory = tmp_path_factory.mktemp("three-deployments")
    payments = ServiceDeployment(
        "payments3", contexts="payments", directory=directory, env=PAYMENTS_ENV
    )
    monolith = ServiceDeployment(
        "monolith3",
        contexts=MONOLITH,
        directory=directory,
        env={**MONOLITH_ENV, "PAYMENTS_URL": payments.url},
    )
    notifications = ServiceDeployment(
        "notifications3",
        contexts="notifications",
        directory=directory,
        env={"USERS_URL": monolith.url},
    )
    with running(payments, monolith, notifications):
        yield {"monolith": monolith, "payments": payments, "notifications": notifications}


def test_orders_charge_on_payments_and_notify_on_notifications_each_once(deployments):
    monolith, payments, notifications = (
        deployments[name] for name in ("monolith", "payments", "notifications")
    )
    _, shop = customer(monolith)
    try:
        item = product(shop, stock=5)
        tokens = {place(shop, item, token): token for token in ("tok_ok", "tok_ok", "tok_decline")}
        orders = {order_id: ended(shop, order_id) for order_id in tokens}
        for order_id, token in tokens.items():
            assert orders[order_id] == ("CANCELLED" if token == "tok_decline" else "CONFIRMED")
            assert charges(payments, order_id) == (0 if token == "tok_decline" else 1)
        arrive(notifications, shop, expected(orders))
    finally:
        shop.close()

    owners = {
        monolith: ("users_", "token_blacklist_", "catalog_", "inventory_", "orders_"),
        payments: ("payments_",),
        notifications: ("notifications_",),
    }
    for deployment, own in owners.items():
        assert foreign_tables(deployment, own) == [], deployment.name
