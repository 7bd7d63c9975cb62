"""Concurrency on real PostgreSQL (no overselling of the last units, no deadlock between
multi-line orders: docs/reliability.md#inventory): threads, each on its own connection,
released together by a barrier."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.db.models import F
from django.utils import timezone

from contexts.inventory import services
from contexts.inventory.contracts import OutOfStock, ReservationNotHeld, StockLine
from contexts.inventory.models import Reservation, StockLevel
from contexts.inventory.public import (
    commit_stock_for_order,
    expire_reservations,
    get_stock_level,
    reserve_stock_for_order,
)
from contexts.inventory.tests.factories import StockLevelFactory
from contexts.kernel.transactions import atomic

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 60


def run_together(*calls: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Run each call in its own thread, all released at once; ``("ok", result)`` or
    ``("error", exception)`` per call, in order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, Any] | None] = [None] * len(calls)

    def work(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            outcomes[index] = ("ok", call())
        except BaseException as exc:
            outcomes[index] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return outcomes  # type: ignore[return-value]


def errors(outcomes, kind=BaseException) -> list[BaseException]:
    return [value for status, value in outcomes if status == "error" and isinstance(value, kind)]


def test_twenty_orders_for_five_units_five_succeed():
    product_id = StockLevelFactory(on_hand=5).product_id

    def order_one():
        reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(product_id, 1)])

    outcomes = run_together(*[order_one] * 20)

    assert [status for status, _ in outcomes].count("ok") == 5
    assert len(errors(outcomes, OutOfStock)) == 15
    assert errors(outcomes) == errors(outcomes, OutOfStock)
    level = get_stock_level(product_id)
    assert (level.on_hand, level.reserved, level.available) == (5, 5, 0)
    assert Reservation.objects.filter(product_id=product_id).count() == 5


def test_the_last_unit_goes_to_exactly_one_order():
    product_id = StockLevelFactory(on_hand=1).product_id

    def order_one():
        reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(product_id, 1)])

    outcomes = run_together(*[order_one] * 8)

    assert [status for status, _ in outcomes].count("ok") == 1
    assert get_stock_level(product_id).available == 0


def test_multi_line_orders_in_opposite_orders_never_deadlock():
    a = StockLevelFactory(on_hand=1000).product_id
    b = StockLevelFactory(on_hand=1000).product_id
    rounds = 15

    for _ in range(rounds):
        outcomes = run_together(
            lambda: reserve_stock_for_order(
                order_id=uuid.uuid4(), lines=[StockLine(a, 1), StockLine(b, 1)]
            ),
            lambda: reserve_stock_for_order(
                order_id=uuid.uuid4(), lines=[StockLine(b, 1), StockLine(a, 1)]
            ),
        )
        assert errors(outcomes) == []

    assert get_stock_level(a).reserved == 2 * rounds
    assert get_stock_level(b).reserved == 2 * rounds


def test_a_deadlock_the_database_detects_is_retried():
    """Two transactions lock two rows in opposite orders (what the services never do):
    PostgreSQL aborts one, and ``retry_on_deadlock`` runs it again to success."""
    first = StockLevelFactory(on_hand=0).product_id
    second = StockLevelFactory(on_hand=0).product_id
    both_hold_one = threading.Barrier(2)

    def lock_then(mine, theirs) -> int:
        attempts = 0

        @services.retry_on_deadlock
        def bump_both() -> None:
            nonlocal attempts
            attempts += 1
            with atomic("inventory"):
                StockLevel.objects.select_for_update().get(product_id=mine)
                if attempts == 1:
                    both_hold_one.wait(timeout=TIMEOUT)
                StockLevel.objects.select_for_update().get(product_id=theirs)
                StockLevel.objects.filter(product_id__in=[mine, theirs]).update(
                    on_hand=F("on_hand") + 1
                )

        bump_both()
        return attempts

    outcomes = run_together(lambda: lock_then(first, second), lambda: lock_then(second, first))

    assert errors(outcomes) == []
    assert sorted(result for _, result in outcomes) == [1, 2]
    assert get_stock_level(first).on_hand == 2
    assert get_stock_level(second).on_hand == 2


def test_the_same_order_reserved_twice_at_once_holds_stock_once():
    product_id = StockLevelFactory(on_hand=10).product_id
    order_id = uuid.uuid4()

    def reserve():
        reserve_stock_for_order(order_id=order_id, lines=[StockLine(product_id, 3)])

    outcomes = run_together(reserve, reserve, reserve)

    assert errors(outcomes) == []
    assert get_stock_level(product_id).reserved == 3


def test_commit_racing_the_expiry_sweep_has_one_winner():
    product_id = StockLevelFactory(on_hand=10).product_id
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(product_id, 4)])
    Reservation.objects.filter(order_id=order_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    commit, sweep = run_together(
        lambda: commit_stock_for_order(order_id=order_id), lambda: expire_reservations()
    )

    level = get_stock_level(product_id)
    if commit[0] == "ok":
        assert sweep == ("ok", 0)
        assert (level.on_hand, level.reserved) == (6, 0)
    else:
        assert isinstance(commit[1], ReservationNotHeld)
        assert sweep == ("ok", 1)
        assert (level.on_hand, level.reserved) == (10, 0)
