"""Property: whatever sequence of saga steps, adjustments and expiry sweeps runs,
``on_hand >= reserved >= 0`` and no unit is created or lost.

A model of the expected state (per order: nothing / reserved / committed /
released / restocked) runs beside the real services; every step is checked
against it, and the stock levels against the model's arithmetic.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from contexts.inventory import services
from contexts.inventory.contracts import OutOfStock, ReservationNotHeld, StockLine
from contexts.inventory.errors import AdjustmentConflict
from contexts.inventory.models import Reservation
from contexts.inventory.public import (
    commit_stock_for_order,
    expire_reservations,
    get_stock_level,
    release_stock_for_order,
    reserve_stock_for_order,
    restock_for_order,
)
from contexts.kernel.databases import database_for
from contexts.kernel.transactions import atomic

PRODUCTS = 2
NOTHING, RESERVED, COMMITTED, RELEASED, RESTOCKED = (
    "NOTHING",
    "RESERVED",
    "COMMITTED",
    "RELEASED",
    "RESTOCKED",
)

order_lines = st.dictionaries(
    st.integers(0, PRODUCTS - 1), st.integers(1, 3), min_size=1, max_size=PRODUCTS
)


class InventoryMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        # Each run in a savepoint rolled back at teardown: the sweep sees only this run.
        self._atomic = atomic("inventory")
        self._atomic.__enter__()
        self.products = sorted(uuid.uuid4() for _ in range(PRODUCTS))
        self.added = dict.fromkeys(self.products, 0)  # sum of accepted adjustments
        self.lines: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
        self.state: dict[uuid.UUID, str] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True, using=database_for("inventory"))
        self._atomic.__exit__(None, None, None)

    # --- the model's arithmetic -------------------------------------------------------

    def expected_reserved(self, product_id) -> int:
        return sum(
            lines.get(product_id, 0)
            for order_id, lines in self.lines.items()
            if self.state[order_id] == RESERVED
        )

    def expected_on_hand(self, product_id) -> int:
        shipped = sum(
            lines.get(product_id, 0)
            for order_id, lines in self.lines.items()
            if self.state[order_id] == COMMITTED
        )
        return self.added[product_id] - shipped

    # --- rules --------------------------------------------------------------------------

    @initialize(stock=st.lists(st.integers(0, 12), min_size=PRODUCTS, max_size=PRODUCTS))
    def stock_up(self, stock):
        for product_id, units in zip(self.products, stock, strict=True):
            if units:
                services.stock_adjust(product_id=product_id, delta=units, reason="initial")
                self.added[product_id] += units

    @rule(target=orders, wanted=order_lines)
    def reserve(self, wanted):
        order_id = uuid.uuid4()
        lines = {self.products[index]: quantity for index, quantity in wanted.items()}
        fits = all(
            self.expected_on_hand(p) - self.expected_reserved(p) >= q for p, q in lines.items()
        )
        self.lines[order_id] = lines
        try:
            reserve_stock_for_order(
                order_id=order_id, lines=[StockLine(p, q) for p, q in lines.items()]
            )
        except OutOfStock as exc:
            assert not fits
            assert set(exc.product_ids) <= set(lines)
            self.state[order_id] = NOTHING
        else:
            assert fits
            self.state[order_id] = RESERVED
        return order_id

    @rule(order_id=orders)
    def reserve_again(self, order_id):
        lines = [StockLine(p, q) for p, q in self.lines[order_id].items()]
        state = self.state[order_id]
        if state in (RELEASED, RESTOCKED):
            with pytest.raises(ReservationNotHeld):
                reserve_stock_for_order(order_id=order_id, lines=lines)
        elif state in (RESERVED, COMMITTED):
            reserve_stock_for_order(order_id=order_id, lines=lines)  # a no-op
        # NOTHING: a retry after OutOfStock is a new attempt; the `reserve` rule covers it.

    @rule(order_id=orders)
    def commit(self, order_id):
        state = self.state[order_id]
        if state in (NOTHING, RELEASED):
            with pytest.raises(ReservationNotHeld):
                commit_stock_for_order(order_id=order_id)
            return
        commit_stock_for_order(order_id=order_id)
        if state == RESERVED:
            self.state[order_id] = COMMITTED

    @rule(order_id=orders, reason=st.sampled_from(["PAYMENT_DECLINED", "CUSTOMER_CANCELLED"]))
    def release(self, order_id, reason):
        release_stock_for_order(order_id=order_id, reason=reason)
        if self.state[order_id] == RESERVED:
            self.state[order_id] = RELEASED

    @rule(order_id=orders)
    def restock(self, order_id):
        restock_for_order(order_id=order_id)
        if self.state[order_id] == COMMITTED:
            self.state[order_id] = RESTOCKED
        elif self.state[order_id] == RESERVED:
            self.state[order_id] = RELEASED

    @rule(index=st.integers(0, PRODUCTS - 1), delta=st.integers(-6, 10))
    def adjust(self, index, delta):
        product_id = self.products[index]
        allowed = self.expected_on_hand(product_id) + delta >= self.expected_reserved(product_id)
        try:
            services.stock_adjust(product_id=product_id, delta=delta)
        except AdjustmentConflict:
            assert not allowed
        else:
            assert allowed
            self.added[product_id] += delta

    @rule(order_id=orders)
    def abandon(self, order_id):
        """The order's hold runs past its expiry, then the sweep runs."""
        Reservation.objects.filter(order_id=order_id).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        released = expire_reservations()
        if self.state[order_id] == RESERVED:
            assert released == 1
            self.state[order_id] = RELEASED
        else:
            assert released == 0

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def stock_is_consistent_and_conserved(self):
        for product_id in self.products:
            level = get_stock_level(product_id)
            assert level.on_hand >= level.reserved >= 0
            assert level.available == level.on_hand - level.reserved
            assert level.reserved == self.expected_reserved(product_id)
            assert level.on_hand == self.expected_on_hand(product_id)


@pytest.mark.django_db
def test_stock_is_never_oversold_lost_or_invented():
    run_state_machine_as_test(
        InventoryMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
