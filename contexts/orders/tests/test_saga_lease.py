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

from contexts.inventory import public as inventory
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
    holds: list[engine._Hold] = []
    real_hold = engine._Hold

    def recorded(states):
        hold = real_hold(states)
        holds.append(hold)
        return hold

    monkeypatch.setattr(engine, "_Hold", recorded)
    order_id = place_order(make_product(stock=2))["id"]
    runner = run_in_thread(order_id)
    assert started.wait(timeout=30)

    # The lease ends under the runner (as after a database outage longer than it):
    # its heartbeat cannot extend it and marks it lost.
    SagaState.objects.filter(order_id=order_id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    wait_for(lambda: holds and holds[0].lost, timeout=10, interval=0.05)
    release.set()
    runner.join(timeout=30)

    # The runner wrote nothing; the saga is still where it was claimed, due for a new runner.
    state = SagaState.objects.get(order_id=order_id)
    assert (state.step, state.status) == ("RESERVE_STOCK", "ACTIVE")
    assert not Order.objects.get(pk=order_id).history.filter(type="PAYMENT_CAPTURED").exists()
    order = run_saga(order_id)
    assert order.status == "CONFIRMED"
    assert order.history.filter(type="PAYMENT_CAPTURED").count() == 1
    assert payments.get_payment_for_order(order_id=order.id).status == "CAPTURED"


def test_a_saga_retrying_in_a_batch_keeps_its_due_time_while_the_batch_runs_on(
    place_order, make_product, settings, monkeypatch
):
    """The heartbeat lets a saga go once it waits: its backoff is not turned into a lease."""
    settings.ORDERS_SAGA_LEASE_SECONDS = 1
    settings.ORDERS_SAGA_RETRY_BASE_SECONDS = 30
    product = make_product(stock=4)
    flaky = place_order(product, token="tok_fail")["id"]
    saga.saga_advance(order_id=flaky)  # reserved; the charge failed and waits 30 s
    SagaState.objects.filter(order_id=flaky).update(next_attempt_at=timezone.now())
    slow = place_order(product)["id"]  # in the same batch, at the reserve step
    started, release = threading.Event(), threading.Event()
    real_reserve = inventory.reserve_stock_for_orders

    def held_reserve(**kwargs):
        started.set()
        assert release.wait(timeout=30), "the test never released the reservation"
        return real_reserve(**kwargs)

    monkeypatch.setattr(inventory, "reserve_stock_for_orders", held_reserve)

    def run():
        try:
            saga.saga_run_due(10)
        finally:
            connections.close_all()

    runner = threading.Thread(target=run)
    runner.start()
    assert started.wait(timeout=30)
    # The flaky saga's charge failed again first (its group ran first): it waits.
    retry_at = lease_end(flaky)
    assert retry_at > timezone.now() + timedelta(seconds=20)
    held_until = lease_end(slow)
    # The batch runs on (the slow saga's lease renewed twice at least) ...
    wait_for(
        lambda: lease_end(slow) > held_until + timedelta(seconds=0.6),
        timeout=10,
        interval=0.05,
        message="the heartbeat did not renew the running saga's lease",
    )
    # ... and the waiting saga keeps its due time.
    assert lease_end(flaky) == retry_at
    release.set()
    runner.join(timeout=30)
    assert Order.objects.get(pk=slow).status == "CONFIRMED"
    assert SagaState.objects.get(order_id=flaky).next_attempt_at == retry_at
