"""Rebuilds racing the saga: a rebuild never moves an order (or its list row) backwards.

Two threads on real PostgreSQL with a controlled interleaving: the rebuild is
held right after it has read the histories of its batch; the saga then runs
the order to CONFIRMED. A rebuild that locks what it rewrites makes the saga
wait for it (the test sees the saga's backend waiting on a lock and only then
lets the rebuild go on); one that does not would write the state it read over
the newer one.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections

from contexts.kernel.databases import database_for
from contexts.kernel.testing import wait_for
from contexts.orders import history, read_models, rebuild, saga
from contexts.orders.models import Order, OrderSummary

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pending_order(place_order, make_product):
    return place_order(make_product(stock=2))["id"]


def _in_thread(target) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run():
        try:
            target()
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _someone_waits_on_a_lock() -> bool:
    with connections[database_for("orders")].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def race(monkeypatch, module, name, rebuild_call, order_id):
    """Hold ``rebuild_call`` right after ``module.name`` (its history read); run the saga."""
    read, go = threading.Event(), threading.Event()
    real = getattr(module, name)

    def read_then_wait(*args, **kwargs):
        result = real(*args, **kwargs)
        read.set()
        assert go.wait(timeout=30), "the test never let the rebuild go on"
        return result

    monkeypatch.setattr(module, name, read_then_wait)
    rebuilder, rebuild_errors = _in_thread(rebuild_call)
    assert read.wait(timeout=30), "the rebuild never read the histories"
    runner, saga_errors = _in_thread(lambda: saga.saga_advance(order_id=order_id))
    # The saga either finishes (nothing stops it) or waits for the rebuild's lock.
    wait_for(
        lambda: not runner.is_alive() or _someone_waits_on_a_lock(),
        timeout=30,
        interval=0.02,
        message="the saga neither finished nor waited for the rebuild",
    )
    go.set()
    rebuilder.join(timeout=30)
    runner.join(timeout=30)
    assert not rebuild_errors and not saga_errors, (rebuild_errors, saga_errors)


def test_rebuild_orders_racing_a_transition_keeps_the_newer_state(
    pending_order, monkeypatch, settings
):
    settings.ORDERS_SAGA_RETRY_BASE_SECONDS = 0
    # A row that differs from its history (so the rebuild rewrites it).
    Order.objects.filter(pk=pending_order).update(
        updated_at=Order.objects.get(pk=pending_order).updated_at - timedelta(hours=1)
    )

    race(
        monkeypatch,
        rebuild,
        "histories_of",
        lambda: call_command("rebuild_orders", stdout=StringIO()),
        pending_order,
    )

    order = Order.objects.get(pk=pending_order)
    assert order.status == "CONFIRMED"
    assert order.last_sequence == 4
    call_command("rebuild_orders", "--verify", stdout=StringIO())


def test_rebuild_read_models_racing_a_transition_keeps_the_newer_state(
    pending_order, monkeypatch, settings
):
    settings.ORDERS_SAGA_RETRY_BASE_SECONDS = 0

    race(
        monkeypatch,
        read_models,
        "_histories",
        lambda: call_command("rebuild_read_models", stdout=StringIO()),
        pending_order,
    )

    row = OrderSummary.objects.get(order_id=pending_order)
    assert row.status == "CONFIRMED"
    replayed = history.summary_fields(
        history.replay(Order.objects.get(pk=pending_order).history.order_by("sequence"))
    )
    assert row.last_sequence == replayed["last_sequence"]
