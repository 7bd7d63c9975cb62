"""The saga's lease while a step runs: kept alive by a heartbeat, given up when it is lost.

The heartbeat is a thread with its own database connection, so these tests
commit (``transaction=True``) and a second thread runs the saga while the test
watches the row.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from contexts.kernel.testing import wait_for
from contexts.orders import saga
from contexts.orders.models import Order, SagaState
from contexts.orders.saga import engine
from contexts.payments import public as payments

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held_charge(monkeypatch):
    """The gateway call of the charge step blocks until the test releases it."""
    started, release = threading.Event(), threading.Event()
    real_charge = payments.charge_for_orders

    def slow_charge(**kwargs):
        outcomes = real_charge(**kwargs)
        started.set()
        assert release.wait(timeout=30), "the test never released the charge"
        return outcomes

    monkeypatch.setattr(payments, "charge_for_orders", slow_charge)
    return started, release


def run_in_thread(order_id) -> threading.Thread:
    def run():
        try:
            saga.saga_advance(order_id=order_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def lease_end(order_id):
    return SagaState.objects.get(order_id=order_id).next_attempt_at


def test_a_step_running_longer_than_the_lease_keeps_it(
    place_order, make_product, held_charge, settings
):
    settings.ORDERS_SAGA_LEASE_SECONDS = 1
    started, release = held_charge
    order_id = place_order(make_product(stock=2))["id"]
    runner = run_in_thread(order_id)
    assert started.wait(timeout=30)
    first_end = lease_end(order_id)

    # Well past the lease the step started with, the saga is still held by its runner.
    wait_for(
        lambda: (
            timezone.now() > first_end + timedelta(seconds=1)
            and lease_end(order_id) > timezone.now()
        ),
        timeout=10,
        interval=0.05,
        message="the lease ran out while the step was running",
    )
    assert saga.saga_advance(order_id=order_id) is False  # nobody else may claim it
    assert saga.saga_resume_stalled() == 0
    release.set()
    runner.join(timeout=30)

    order = Order.objects.get(pk=order_id)
    assert order.status == "CONFIRMED"
    assert order.history.filter(type="PAYMENT_CAPTURED").count() == 1


def test_a_runner_whose_lease_ran_out_stops_before_moving_the_saga(
    place_order, make_product, held_charge, settings, monkeypatch, run_saga
):
    settings.ORDERS_SAGA_LEASE_SECONDS = 1
    started, release = held_charge
    heartbeats: list[engine._Heartbeat] = []
    real_heartbeat = engine._Heartbeat

    def recorded(states):
        heartbeat = real_heartbeat(states)
        heartbeats.append(heartbeat)
        return heartbeat

    monkeypatch.setattr(engine, "_Heartbeat", recorded)
    order_id = place_order(make_product(stock=2))["id"]
    runner = run_in_thread(order_id)
    assert started.wait(timeout=30)

    # The lease ends under the runner (as after a database outage longer than it):
    # its heartbeat cannot extend it and marks it lost.
    SagaState.objects.filter(order_id=order_id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    wait_for(lambda: heartbeats and heartbeats[0].lost, timeout=10, interval=0.05)
    release.set()
    runner.join(timeout=30)

    # The runner wrote nothing; the saga is still at the charge, due for a new runner.
    state = SagaState.objects.get(order_id=order_id)
    assert (state.step, state.status) == ("CHARGE_PAYMENT", "ACTIVE")
    assert not Order.objects.get(pk=order_id).history.filter(type="PAYMENT_CAPTURED").exists()
    order = run_saga(order_id)
    assert order.status == "CONFIRMED"
    assert order.history.filter(type="PAYMENT_CAPTURED").count() == 1
    assert payments.get_payment_for_order(order_id=order.id).status == "CAPTURED"
