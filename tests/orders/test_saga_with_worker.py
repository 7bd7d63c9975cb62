"""The order saga end to end: the HTTP API, a real Celery worker, PostgreSQL and Redis.

Orders are placed through the API; the worker (a separate process) runs the
saga and the event deliveries; the test only reads what a client would see
(the order, its history, stock levels, the payment).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from uuid import UUID

import pytest
from django.core.management import call_command
from django.db import connections

from contexts.inventory import public as inventory
from contexts.kernel.testing import wait_for
from contexts.orders.models import Order
from contexts.payments import public as payments

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

#: Fast retries and short leases, so that failure paths end within seconds.
WORKER_ENV = {
    "ORDERS_PAYMENT_MAX_ATTEMPTS": "3",
    "ORDERS_SAGA_RETRY_BASE_SECONDS": "0.05",
    "ORDERS_SAGA_LEASE_SECONDS": "2",
}


def final(client, order_id, *, timeout=30.0):
    """Poll the order through the API until it leaves PENDING; return it."""

    def read():
        order = client.get(f"/api/orders/{order_id}").json()
        return order if order["status"] != "PENDING" else None

    return wait_for(read, timeout=timeout, message=f"order {order_id} still PENDING")


def history_types(client, order_id):
    return [e["type"] for e in client.get(f"/api/orders/{order_id}/history").json()["results"]]


def stock(product):
    level = inventory.get_stock_level(UUID(product["id"]))
    return {"on_hand": level.on_hand, "reserved": level.reserved, "available": level.available}


def test_an_order_is_confirmed_by_the_worker(
    start_celery_worker, place_order, auth_client, make_product
):
    start_celery_worker(env=WORKER_ENV)
    product = make_product(price="12.50", stock=4)

    order_id = place_order(product, quantity=3)["id"]
    order = final(auth_client, order_id)

    assert (order["status"], order["cancel_reason"]) == ("CONFIRMED", None)
    assert order["total"] == "37.50"
    assert history_types(auth_client, order_id) == [
        "ORDER_PLACED",
        "STOCK_RESERVED",
        "PAYMENT_CAPTURED",
        "ORDER_CONFIRMED",
    ]
    assert stock(product) == {"on_hand": 1, "reserved": 0, "available": 1}
    assert payments.get_payment_for_order(order_id=UUID(order_id)).status == "CAPTURED"
    listed = auth_client.get("/api/orders").json()["results"]
    assert [(o["id"], o["status"]) for o in listed] == [(order_id, "CONFIRMED")]


@pytest.mark.parametrize(
    ("token", "status", "reason", "payment_status"),
    [
        ("tok_decline", "CANCELLED", "PAYMENT_DECLINED", "DECLINED"),
        ("tok_fail_once", "CONFIRMED", None, "CAPTURED"),
        ("tok_fail", "CANCELLED", "PAYMENT_FAILED", None),
    ],
)
def test_payment_outcomes(
    start_celery_worker,
    place_order,
    auth_client,
    make_product,
    token,
    status,
    reason,
    payment_status,
):
    start_celery_worker(env=WORKER_ENV)
    product = make_product(stock=2)

    order_id = place_order(product, quantity=2, token=token)["id"]
    order = final(auth_client, order_id)

    assert (order["status"], order["cancel_reason"]) == (status, reason)
    types = history_types(auth_client, order_id)
    payment = payments.get_payment_for_order(order_id=UUID(order_id))
    if status == "CONFIRMED":
        assert types.count("PAYMENT_CAPTURED") == 1  # charged once, after one retry
        assert types.count("PAYMENT_RETRY_SCHEDULED") == 1
        assert payment.status == payment_status
        assert stock(product) == {"on_hand": 0, "reserved": 0, "available": 0}
    else:
        assert "PAYMENT_CAPTURED" not in types
        assert types[-2:] == ["STOCK_RELEASED", "ORDER_CANCELLED"]
        assert payment is None or payment.status != "CAPTURED"
        if payment_status:
            assert payment.status == payment_status
        assert stock(product) == {"on_hand": 2, "reserved": 0, "available": 2}


def test_customer_cancel_after_the_worker_confirmed(
    start_celery_worker, place_order, auth_client, make_product
):
    start_celery_worker(env=WORKER_ENV)
    product = make_product(stock=3)
    order_id = place_order(product, quantity=2)["id"]
    assert final(auth_client, order_id)["status"] == "CONFIRMED"

    cancelled = auth_client.post(f"/api/orders/{order_id}/cancel")
    again = auth_client.post(f"/api/orders/{order_id}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["cancel_reason"] == "CUSTOMER_CANCELLED"
    assert again.status_code == 409
    assert stock(product) == {"on_hand": 3, "reserved": 0, "available": 3}
    assert payments.get_payment_for_order(order_id=UUID(order_id)).status == "REFUNDED"


def test_twenty_concurrent_orders_for_five_units(
    start_celery_worker, place_order, make_auth_client, make_product
):
    from contexts.users.tests.factories import UserFactory

    start_celery_worker(concurrency=2, env=WORKER_ENV)
    product = make_product(price="3.00", stock=5)
    buyers = [make_auth_client(UserFactory()) for _ in range(20)]
    barrier = threading.Barrier(len(buyers))
    placed: list[tuple[object, str]] = []
    lock = threading.Lock()

    def buy(client):
        try:
            barrier.wait(timeout=30)
            order_id = place_order(product, client=client)["id"]
            with lock:
                placed.append((client, order_id))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buy, args=(client,)) for client in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(placed) == 20

    outcomes = [final(client, order_id, timeout=60) for client, order_id in placed]

    statuses = sorted((o["status"], o["cancel_reason"]) for o in outcomes)
    assert statuses.count(("CONFIRMED", None)) == 5
    assert statuses.count(("CANCELLED", "OUT_OF_STOCK")) == 15
    assert stock(product) == {"on_hand": 0, "reserved": 0, "available": 0}


def test_a_worker_killed_mid_saga_leaves_every_order_final_and_charged_once(
    start_celery_worker, place_order, auth_client, make_product, settings, tmp_path
):
    """SIGKILL right after a charge; the saga resumes without a second one."""
    from contexts.orders.saga import saga_resume_stalled

    settings.ORDERS_SAGA_SWEEP_GRACE_SECONDS = 0
    marker = tmp_path / "crashed"
    doomed = start_celery_worker(
        include=["tests.orders.crash_hooks"],
        env={**WORKER_ENV, "ORDERS_TEST_CRASH_MARKER": str(marker)},
    )
    product = make_product(price="2.00", stock=10)
    order_ids = [place_order(product, quantity=2)["id"] for _ in range(4)]

    wait_for(marker.exists, timeout=30, message="the crash hook never fired")
    doomed.stop(timeout=5)  # "restart": the whole worker goes away...
    start_celery_worker(env=WORKER_ENV)  # ...and a fresh one takes over

    def all_final():
        saga_resume_stalled()  # what beat would do
        return all(Order.objects.get(pk=order_id).status != "PENDING" for order_id in order_ids)

    wait_for(all_final, timeout=60, interval=0.5, message="orders still PENDING after restart")

    crashed_order = marker.read_text()
    assert crashed_order in order_ids
    for order_id in order_ids:
        order = final(auth_client, order_id)
        assert order["status"] == "CONFIRMED", order
        assert history_types(auth_client, order_id).count("PAYMENT_CAPTURED") == 1
        assert payments.get_payment_for_order(order_id=UUID(order_id)).status == "CAPTURED"
    assert stock(product) == {"on_hand": 2, "reserved": 0, "available": 2}
    call_command("rebuild_orders", "--verify")


def test_orders_in_flight_when_the_worker_main_process_is_killed_end_within_seconds(
    start_celery_worker, place_order, auth_client, make_product, tmp_path
):
    """SIGKILL of the worker's main process mid-step: every order final soon after a restart.

    The worker runs with the default lease and sweep settings: a step in flight
    holds a short lease that its runner kept alive, so once the runner is dead
    the saga is free within seconds, and the restarted worker's beat (and its
    start-up sweep) resumes it. A 60 s lease would miss the deadline below.
    """
    marker = tmp_path / "hung"
    doomed = start_celery_worker(
        concurrency=2,
        include=["tests.orders.hang_hooks"],
        env={"ORDERS_TEST_HANG_MARKER": str(marker)},
    )
    product = make_product(price="2.00", stock=40)
    order_ids = [place_order(product, quantity=2)["id"] for _ in range(3)]
    wait_for(marker.exists, timeout=30, message="the hang hook never fired")
    order_ids += [place_order(product, quantity=2)["id"] for _ in range(3)]  # still flowing

    pool = doomed.pool_pids()
    assert pool
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.process.wait(timeout=10)
    wait_for(
        lambda: not any(_alive(pid) for pid in pool),
        timeout=10,
        message="pool processes outlived the worker's main process",
    )
    order_ids += [place_order(product, quantity=2)["id"] for _ in range(2)]  # while it is down

    restarted = time.monotonic()
    start_celery_worker(beat=True)

    def all_final():
        return not Order.objects.filter(pk__in=order_ids, status="PENDING").exists()

    wait_for(all_final, timeout=30, interval=0.2, message="orders still PENDING after restart")
    elapsed = time.monotonic() - restarted
    print(f"\nevery order final {elapsed:.1f} s after the worker restarted")

    def every_order_notified_once() -> bool:
        listed = auth_client.get("/api/notifications?kind=ORDER_CONFIRMED&page_size=100")
        return sorted(n["order_id"] for n in listed.json()["results"]) == sorted(order_ids)

    # Deliveries the dead worker held (prefetched or running) are re-driven by
    # their publisher, so the confirmations arrive within seconds as well.
    wait_for(every_order_notified_once, timeout=30, interval=0.2, message="notifications missing")
    elapsed = time.monotonic() - restarted
    print(f"every ORDER_CONFIRMED notification {elapsed:.1f} s after the worker restarted")

    assert marker.read_text() in order_ids
    for order_id in order_ids:
        order = final(auth_client, order_id)
        assert order["status"] == "CONFIRMED", order
        assert history_types(auth_client, order_id).count("PAYMENT_CAPTURED") == 1
        assert history_types(auth_client, order_id).count("STOCK_RESERVED") == 1
        assert payments.get_payment_for_order(order_id=UUID(order_id)).status == "CAPTURED"
    assert stock(product) == {"on_hand": 40 - 2 * 8, "reserved": 0, "available": 40 - 2 * 8}
    call_command("rebuild_orders", "--verify")


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_starting_worker_sweeps_at_once(
    start_celery_worker, place_order, auth_client, make_product
):
    """A worker that starts resumes overdue sagas itself, without waiting for beat.

    The order's message is lost (the broker emptied) and its lease long over,
    as after a crash; no beat runs and the test never sweeps.
    """
    from datetime import timedelta

    from django.utils import timezone

    from contexts.kernel.testing import purge_broker
    from contexts.orders.models import SagaState

    product = make_product(stock=2)
    order_id = place_order(product)["id"]
    purge_broker()
    long_ago = timezone.now() - timedelta(minutes=5)
    SagaState.objects.filter(order_id=order_id).update(
        next_attempt_at=long_ago, updated_at=long_ago
    )

    start_celery_worker()

    assert final(auth_client, order_id, timeout=30)["status"] == "CONFIRMED"
