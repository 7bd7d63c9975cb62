"""A database that blinks loses nothing: the worker's PostgreSQL connections are cut for 5 s.

The worker reaches PostgreSQL through a TCP proxy the test owns; the test
process (the web side: registrations, orders) talks to PostgreSQL directly and
keeps publishing during the cut. Deliveries that arrive while the worker's
database is unreachable are retried, and the publisher re-drives what no
consumer confirmed, so every effect happens exactly once and the worker keeps
running (docs/events.md, "When the database blinks").
"""

from __future__ import annotations

import itertools
import time
from uuid import UUID

import pytest
from django.db import connections

from contexts.kernel.testing import database_url, wait_for
from contexts.notifications.models import Notification
from contexts.orders.models import Order
from contexts.payments import public as payments
from tests.faults.proxy import CuttableProxy

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CUT_SECONDS = 5.0

WORKER_ENV = {
    "ORDERS_PAYMENT_MAX_ATTEMPTS": "3",
    "ORDERS_SAGA_RETRY_BASE_SECONDS": "0.05",
    "ORDERS_SAGA_LEASE_SECONDS": "2",
    "EVENT_REDRIVE_SECONDS": "2",
}

_emails = itertools.count()


def proxied_url(port: int) -> str:
    db = connections["default"].settings_dict
    direct = f"@{db.get('HOST') or 'localhost'}{':' + str(db['PORT']) if db.get('PORT') else ''}/"
    url = database_url()
    assert direct in url, url
    return url.replace(direct, f"@127.0.0.1:{port}/")


def register(client) -> str:
    email = f"blink-{next(_emails)}-{time.monotonic_ns()}@example.com"
    response = client.post(
        "/api/users",
        {"email": email, "name": "Blink", "password": "a-long-enough-passphrase-1"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return email


def history_types(client, order_id):
    return [e["type"] for e in client.get(f"/api/orders/{order_id}/history").json()["results"]]


@pytest.fixture
def proxy():
    db = connections["default"].settings_dict
    upstream = (db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432))
    proxy = CuttableProxy(upstream).start()  # the worker's DATABASE_URL points here
    yield proxy
    proxy.stop()


def test_a_five_second_database_blink_loses_no_event(
    proxy,
    start_celery_worker,
    api_client,
    auth_client,
    make_product,
    place_order,
    stock_of,
    settings,
):
    settings.ORDERS_SAGA_SWEEP_GRACE_SECONDS = 0
    worker = start_celery_worker(
        concurrency=2, beat=True, env={**WORKER_ENV, "DATABASE_URL": proxied_url(proxy.port)}
    )
    product = make_product(price="1.00", stock=100)
    emails: list[str] = []
    order_ids: list[str] = []

    def traffic(rounds: int) -> None:
        for _ in range(rounds):
            emails.append(register(api_client))
            order_ids.append(place_order(product)["id"])

    traffic(3)  # deliveries of these are still in flight when the cut starts
    proxy.cut()
    cut_until = time.monotonic() + CUT_SECONDS
    while time.monotonic() < cut_until:  # users keep registering and ordering meanwhile
        traffic(1)
        time.sleep(0.5)
    proxy.restore()
    traffic(2)
    assert proxy.dropped > 0  # the cut did hit the worker's connections

    def welcomed(email: str) -> int:
        return Notification.objects.filter(
            kind=Notification.Kind.WELCOME, recipient_email=email
        ).count()

    def confirmed_notices(order_id: str) -> int:
        return Notification.objects.filter(
            kind=Notification.Kind.ORDER_CONFIRMED, order_id=order_id
        ).count()

    def everything_done() -> bool:
        return (
            all(welcomed(email) for email in emails)
            and not Order.objects.filter(pk__in=order_ids, status="PENDING").exists()
            and all(confirmed_notices(order_id) for order_id in order_ids)
        )

    wait_for(
        everything_done,
        timeout=90,
        interval=0.5,
        message=(
            f"after the blink: {sum(map(bool, map(welcomed, emails)))}/{len(emails)} welcomed, "
            f"{sum(map(bool, map(confirmed_notices, order_ids)))}/{len(order_ids)} order notices"
        ),
    )

    assert worker.process.poll() is None, worker.logs()[-4000:]
    assert [welcomed(email) for email in emails] == [1] * len(emails)
    assert [confirmed_notices(order_id) for order_id in order_ids] == [1] * len(order_ids)
    for order_id in order_ids:
        assert Order.objects.get(pk=order_id).status == "CONFIRMED"
        types = history_types(auth_client, order_id)
        assert types.count("STOCK_RESERVED") == 1, types
        assert types.count("PAYMENT_CAPTURED") == 1, types
        assert payments.get_payment_for_order(order_id=UUID(order_id)).status == "CAPTURED"
    level = stock_of(product["id"])
    assert (level["on_hand"], level["reserved"]) == (100 - len(order_ids), 0)
