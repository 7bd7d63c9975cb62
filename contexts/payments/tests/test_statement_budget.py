"""What charging costs in SQL: statements and transactions per charge, alone and in a batch.

The charge sits on the saga's hot path, where every statement is a round trip
the order waits for, so its budget is asserted here and a change that adds one
fails. Counted on the payments alias with ``CaptureQueriesContext``; each
``atomic`` block is a ``SAVEPOINT`` inside the test's own transaction (in
production a ``BEGIN`` and a ``COMMIT``), so savepoints count transactions and
the rest counts statements.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from contexts.kernel.databases import database_for
from contexts.payments.contracts import ChargeRequest, ChargeResult
from contexts.payments.public import charge_for_orders

pytestmark = pytest.mark.django_db

BATCH = 10


@dataclass
class Cost:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0


@contextmanager
def counted():
    with CaptureQueriesContext(connections[database_for("payments")]) as context:
        cost = Cost()
        yield cost
    for query in context.captured_queries:
        sql = query["sql"]
        if sql.startswith("SAVEPOINT"):
            cost.transactions += 1
        elif not sql.startswith(("RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            cost.statements.append(sql)


def charge(order_ids: list[uuid.UUID], token: str = "tok_visa") -> dict[uuid.UUID, ChargeResult]:
    requests = [
        ChargeRequest(
            order_id=order_id, amount=Decimal("40.00"), currency="USD", payment_token=token
        )
        for order_id in order_ids
    ]
    return {
        order_id: outcome.result
        for order_id, outcome in charge_for_orders(requests=requests).items()
    }


def new_orders(count: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(count)]


def test_charging_one_order_costs_five_statements_in_one_transaction():
    [order_id] = orders = new_orders(1)
    with counted() as cost:
        assert charge(orders) == {order_id: ChargeResult.CAPTURED}

    # The payment row created (one upsert), the gateway's ledger (one upsert, standing
    # for the PSP), then one transaction: the capture, the attempt, the outbox row.
    assert (len(cost.statements), cost.transactions) == (5, 1), cost.statements


def test_a_batch_costs_one_ledger_statement_per_order_and_four_in_all_besides():
    orders = new_orders(BATCH)
    with counted() as cost:
        assert set(charge(orders).values()) == {ChargeResult.CAPTURED}

    assert (len(cost.statements), cost.transactions) == (BATCH + 4, 1), cost.statements


def test_a_retry_after_a_gateway_error_costs_two_statements_more():
    orders = new_orders(1)
    assert set(charge(orders, token="tok_fail_once").values()) == {ChargeResult.UNAVAILABLE}
    with counted() as cost:
        assert set(charge(orders, token="tok_fail_once").values()) == {ChargeResult.CAPTURED}

    # The ledger's repeat settles under a lock (its SELECT ... FOR UPDATE and UPDATE).
    assert (len(cost.statements), cost.transactions) == (7, 2), cost.statements


def test_a_captured_order_charged_again_costs_one_statement():
    orders = new_orders(1)
    charge(orders)
    with counted() as cost:
        assert set(charge(orders).values()) == {ChargeResult.CAPTURED}

    assert (len(cost.statements), cost.transactions) == (1, 0), cost.statements
