"""Notifications as its own deployment: it consumes the monolith's events from the broker.

Two deployments, each on a database of its own, sharing one Redis:

- the monolith, ``SHOP_CONTEXTS=users,catalog,inventory,orders,payments``:
  gunicorn, a Celery worker and beat. It runs no notifications code, yet its
  relay sends ``UserRegistered``, ``OrderConfirmed`` and ``OrderCancelled`` to
  the ``notifications`` queue: the consumers are declared with the contracts;
- notifications, ``SHOP_CONTEXTS=notifications`` with ``USERS_URL``: gunicorn
  (``GET /api/notifications``, the customer's JWT verified locally), a worker
  (the deliveries, the emails, which ask users for the address over the
  internal API) and beat (its email retries and event sweep).

A customer registers and orders through the monolith; the notifications
appear once each on the notifications deployment, and their confirmations
travel back to the monolith's outbox. Then notifications (web, worker, beat)
is down for 10 s while events are produced: they wait in its queue and the
monolith's outbox, and after the restart each notification exists once. The
processes start once for the module.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from itertools import count
from typing import Any

import httpx
import pytest
from celery import current_app

from contexts.kernel.testing import wait_for
from tests.extraction.deployments import ServiceDeployment, foreign_tables, running

pytestmark = pytest.mark.extraction

PASSWORD = "correct-horse-battery-staple"
MONOLITH = "users,catalog,inventory,orders,payments"
OUTAGE_SECONDS = 10
_skus = count()

MONOLITH_OWN = ("users_", "token_blacklist_", "catalog_", "inventory_", "orders_", "payments_")


@pytest.fixture(scope="module")
def deployments(tmp_path_factory) -> Iterator[dict[str, ServiceDeployment]]:
    directory = tmp_path_factory.mktemp("notifications-extracted")
    monolith = ServiceDeployment("monolith", contexts=MONOLITH, directory=directory)
    notifications = ServiceDeployment(
        "notifications",
        contexts="notifications",
        directory=directory,
        env={"USERS_URL": monolith.url},
    )
    with running(monolith, notifications):
        yield {"monolith": monolith, "notifications": notifications}


@pytest.fixture(scope="module")
def monolith(deployments) -> ServiceDeployment:
    return deployments["monolith"]


@pytest.fixture(scope="module")
def notifications(deployments) -> ServiceDeployment:
    return deployments["notifications"]


def customer(monolith: ServiceDeployment) -> tuple[str, httpx.Client]:
    """A new customer of the monolith, signed in: (their id, a client with their JWT)."""
    email = f"reader-{uuid.uuid4().hex[:8]}@example.com"
    client = httpx.Client(base_url=monolith.url, timeout=30)
    created = client.post("/api/users", json={"email": email, "name": "Ada", "password": PASSWORD})
    assert created.status_code == 201, created.text
    signed_in = client.post("/api/auth/token", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    client.headers["Authorization"] = f"Bearer {signed_in.json()['access']}"
    return created.json()["id"], client


def product(shop: httpx.Client, *, stock: int) -> dict[str, Any]:
    created = shop.post(
        "/api/products", json={"sku": f"NTF-{next(_skus):05d}", "name": "Mug", "price": "9.00"}
    )
    assert created.status_code == 201, created.text
    item = created.json()

    def adjusted() -> bool:
        # The stock row is created by inventory's handler of ProductCreated (the worker).
        response = shop.post(f"/api/inventory/{item['id']}/adjust", json={"delta": stock})
        return response.status_code == 200

    wait_for(adjusted, timeout=30, interval=0.2, message="no stock row for the new product")
    return item


def place(shop: httpx.Client, item: dict[str, Any], token: str) -> str:
    response = shop.post(
        "/api/orders",
        json={"items": [{"product_id": item["id"], "quantity": 1}], "payment_token": token},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def ended(shop: httpx.Client, order_id: str) -> str:
    """The order's final status (polled through the monolith's public API)."""
    final: dict[str, str] = {}

    def done() -> bool:
        status = shop.get(f"/api/orders/{order_id}").json()["status"]
        if status != "PENDING":
            final["status"] = status
        return bool(final)

    wait_for(done, timeout=60, interval=0.2, message=f"order {order_id} stayed PENDING")
    return final["status"]


def notifications_of(notifications: ServiceDeployment, shop: httpx.Client) -> list[dict]:
    """The customer's notifications, from the notifications deployment's own public API."""
    response = httpx.get(
        f"{notifications.url}/api/notifications",
        headers={"Authorization": shop.headers["Authorization"]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]


def expected(orders: dict[str, str]) -> Counter:
    """(kind, order id) of the notifications a customer's orders make, with the welcome."""
    kinds = {"CONFIRMED": "ORDER_CONFIRMED", "CANCELLED": "ORDER_CANCELLED"}
    return Counter([("WELCOME", None), *((kinds[s], o) for o, s in orders.items())])


def arrive(notifications: ServiceDeployment, shop: httpx.Client, wanted: Counter) -> None:
    """Wait until the customer's notifications are ``wanted`` (more would fail at once)."""

    def arrived() -> bool:
        got = Counter((n["kind"], n["order_id"]) for n in notifications_of(notifications, shop))
        assert got - wanted == Counter(), f"unexpected or duplicate notifications: {got}"
        return got == wanted

    wait_for(arrived, timeout=60, interval=0.3, message="the notifications did not all arrive")


def unconfirmed(monolith: ServiceDeployment) -> int:
    """The monolith's outbox rows some consumer has not confirmed yet."""
    [(rows,)] = monolith.rows(
        "SELECT count(*) FROM kernel_outboxmessage WHERE unconfirmed::text <> '{}'"
    )
    return int(rows)


def queued(queue: str) -> int:
    """The messages waiting in ``queue`` on the shared Redis."""
    import redis

    client = redis.Redis.from_url(current_app.conf.broker_url)
    try:
        return int(client.llen(queue))
    finally:
        client.close()


def all_confirmed(monolith: ServiceDeployment) -> None:
    wait_for(
        lambda: unconfirmed(monolith) == 0,
        timeout=60,
        interval=0.3,
        message="the notifications deployment's confirmations did not reach the monolith",
    )


def test_each_event_makes_one_notification_on_the_notifications_deployment(monolith, notifications):
    user_id, shop = customer(monolith)
    try:
        item = product(shop, stock=5)
        orders = {place(shop, item, token): "" for token in ("tok_ok", "tok_decline")}
        orders = {order_id: ended(shop, order_id) for order_id in orders}
        assert sorted(orders.values()) == ["CANCELLED", "CONFIRMED"]

        arrive(notifications, shop, expected(orders))
        # Every consumer confirmed to the monolith: nothing is re-driven any more.
        all_confirmed(monolith)
        listed = notifications_of(notifications, shop)
    finally:
        shop.close()

    assert Counter((n["kind"], n["order_id"]) for n in listed) == expected(orders)
    [(rows,)] = notifications.rows(
        "SELECT count(*) FROM notifications_notification WHERE user_id = %s", user_id
    )
    assert rows == 3
    # The order emails asked the users context for the address, at USERS_URL.
    wait_for(
        lambda: (
            notifications.rows(
                "SELECT count(*) FROM notifications_notification "
                "WHERE user_id = %s AND email_sent_at IS NULL",
                user_id,
            )
            == [(0,)]
        ),
        timeout=30,
        interval=0.3,
        message="the notification emails were not sent",
    )
    assert "/internal/v1/users/users/" in monolith.logs()
    # The monolith ran no notifications handler: it only sent the events on.
    assert "notifications.welcome_new_user" not in monolith.worker_logs()


def test_notifications_down_for_ten_seconds_events_wait_then_each_notification_once(
    monolith, notifications
):
    notifications.stop_all()  # web, worker and beat
    went_down = time.monotonic()
    customers = []
    try:
        while time.monotonic() - went_down < OUTAGE_SECONDS:
            # Events keep coming: each customer registers and orders while it is down.
            user_id, shop = customer(monolith)
            item = product(shop, stock=2)
            orders = {place(shop, item, "tok_ok"): ""}
            customers.append((user_id, shop, {o: ended(shop, o) for o in orders}))
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{notifications.url}/api/notifications", timeout=2)
        # Nothing was lost: the events wait, unconfirmed, for their consumer, and their
        # deliveries in its queue.
        assert customers
        assert unconfirmed(monolith) >= 2 * len(customers)
        assert queued("notifications") > 0
    finally:
        notifications.start()
        notifications.start_background()

    try:
        for _, shop, orders in customers:
            arrive(notifications, shop, expected(orders))
        all_confirmed(monolith)
        for user_id, _, orders in customers:
            [(rows,)] = notifications.rows(
                "SELECT count(*) FROM notifications_notification WHERE user_id = %s", user_id
            )
            assert rows == len(expected(orders)), user_id
    finally:
        for _, shop, _ in customers:
            shop.close()


def test_each_database_holds_only_its_own_context_kernel_and_django_tables(monolith, notifications):
    for deployment, own in ((monolith, MONOLITH_OWN), (notifications, ("notifications_",))):
        assert foreign_tables(deployment, own) == [], deployment.name
        assert {"kernel_outboxmessage", "kernel_inboxmessage", "django_migrations"} <= (
            deployment.tables()
        )
    assert not any(t.startswith("notifications_") for t in monolith.tables())
    assert "notifications_notification" in notifications.tables()
    assert "users_user" not in notifications.tables()
