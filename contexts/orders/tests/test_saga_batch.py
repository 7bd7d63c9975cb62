"""The batched saga runner: many sagas per claim, one transaction per context per step.

``saga_run_due`` claims every due saga at once and runs each step for the whole
group. These tests check that each order still gets its own outcome, that a
runner that lost one order's lease writes nothing for that order only, and the
statement budget: a batch costs far fewer statements per order than one order
alone (counted on every database alias with ``CaptureQueriesContext``).
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from datetime import timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contexts.inventory import public as inventory
from contexts.orders import saga
from contexts.orders.models import Order, SagaState
from contexts.orders.saga import engine

pytestmark = pytest.mark.django_db

#: A whole order's saga (reserve, charge, confirm) run alone may cost at most this many
#: statements (24 today, 1 of them the simulated gateway's ledger, standing in for the PSP).
SINGLE_ORDER_BUDGET = 22
BATCH = 20


@contextmanager
def counted():
    """Count the SQL statements run in this thread on every database alias.

    Savepoints are left out: they are this test's own transaction around each
    ``atomic`` (in production an outermost ``atomic`` is a plain BEGIN/COMMIT).
    """
    with ExitStack() as stack:
        contexts = [
            stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections
        ]
        result: dict[str, int] = {}
        yield result
    statements = [
        query["sql"]
        for context in contexts
        for query in context.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    result["total"] = len(statements)


def statuses(order_ids) -> dict[str, tuple[str, str | None]]:
    return {str(o.id): (o.status, o.cancel_reason) for o in Order.objects.filter(pk__in=order_ids)}


def test_a_batch_gives_each_order_its_own_outcome(place_order, make_product, stock_of):
    plenty, scarce = make_product(stock=10), make_product(stock=1)
    confirmed = [place_order(plenty)["id"] for _ in range(3)]
    first_scarce = place_order(scarce)["id"]
    second_scarce = place_order(scarce)["id"]  # the first one takes the last unit
    declined = place_order(plenty, token="tok_decline_insufficient_funds")["id"]

    assert saga.saga_run_due(limit=50) == 6

    assert statuses([*confirmed, first_scarce, second_scarce, declined]) == {
        **{order_id: ("CONFIRMED", None) for order_id in confirmed},
        first_scarce: ("CONFIRMED", None),
        second_scarce: ("CANCELLED", "OUT_OF_STOCK"),
        declined: ("CANCELLED", "PAYMENT_DECLINED"),
    }
    assert stock_of(plenty["id"])["on_hand"] == 7
    assert stock_of(plenty["id"])["reserved"] == 0
    assert stock_of(scarce["id"])["on_hand"] == 0
    assert SagaState.objects.filter(status="ACTIVE").count() == 0
    assert saga.saga_run_due(limit=50) == 0


def test_a_gateway_error_for_one_order_retries_that_order_only(place_order, make_product):
    product = make_product(stock=5)
    fine = place_order(product)["id"]
    flaky = place_order(product, token="tok_fail_once")["id"]

    saga.saga_run_due(limit=50)

    assert Order.objects.get(pk=fine).status == "CONFIRMED"
    state = SagaState.objects.get(order_id=flaky)
    assert (state.step, state.status) == ("CHARGE_PAYMENT", "ACTIVE")
    assert state.next_attempt_at > timezone.now()  # waits for its backoff
    SagaState.objects.filter(order_id=flaky).update(next_attempt_at=timezone.now())
    saga.saga_run_due(limit=50)
    assert Order.objects.get(pk=flaky).status == "CONFIRMED"


def test_a_runner_that_lost_one_lease_writes_nothing_for_that_order(
    place_order, make_product, monkeypatch
):
    product = make_product(stock=5)
    kept = place_order(product)["id"]
    taken = place_order(product)["id"]
    real_reserve = inventory.reserve_stock_for_orders

    def reserve_while_another_runner_claims(**kwargs):
        outcomes = real_reserve(**kwargs)
        # Meanwhile the lease of one saga ended and another runner claimed it.
        SagaState.objects.filter(order_id=taken).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        assert engine.claim_one(order_id=taken, now=timezone.now()) is not None
        return outcomes

    monkeypatch.setattr(inventory, "reserve_stock_for_orders", reserve_while_another_runner_claims)
    saga.saga_run_due(limit=50)

    assert Order.objects.get(pk=kept).status == "CONFIRMED"
    state = SagaState.objects.get(order_id=taken)
    assert (state.step, state.attempts) == ("RESERVE_STOCK", 2)  # the other runner's claim
    assert list(Order.objects.get(pk=taken).history.values_list("type", flat=True)) == [
        "ORDER_PLACED"
    ]
    # The runner had charged it before it could know (the charge is its own, idempotent
    # per order): the next runner gets the same capture back and confirms once.
    monkeypatch.setattr(inventory, "reserve_stock_for_orders", real_reserve)
    SagaState.objects.filter(order_id=taken).update(next_attempt_at=timezone.now())
    saga.saga_run_due(limit=50)
    taken_order = Order.objects.get(pk=taken)
    assert taken_order.status == "CONFIRMED"
    assert taken_order.history.filter(type="PAYMENT_CAPTURED").count() == 1


def test_a_batch_costs_far_fewer_statements_per_order_than_one_order_alone(
    place_order, make_product
):
    product = make_product(stock=BATCH + 1)
    alone = place_order(product)["id"]
    with counted() as single:
        assert saga.saga_run_due(limit=50) == 1
    assert Order.objects.get(pk=alone).status == "CONFIRMED"

    batch = [place_order(product)["id"] for _ in range(BATCH)]
    with counted() as many:
        assert saga.saga_run_due(limit=50) == BATCH
    assert {status for status, _ in statuses(batch).values()} == {"CONFIRMED"}

    assert single["total"] <= SINGLE_ORDER_BUDGET, single
    # Per order, a batch of 20 costs well under a third of what one order costs alone
    # (41 statements for 20 orders against 22 for one; the gateway's ledger is 1 per call).
    assert many["total"] < BATCH * single["total"] / 3, (single["total"], many["total"])
