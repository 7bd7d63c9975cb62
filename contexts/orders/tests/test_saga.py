"""The placement saga, step by step, driven in this process (no worker).

Each test places an order through the API, runs the saga's steps by calling
the saga service directly, and asserts what a customer (the order, its
history) and the other contexts (stock levels, the payment) would see.
Faults are injected by wrapping the other contexts' public functions.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from uuid import UUID

import pytest
from django.db import DatabaseError, connections
from django.utils import timezone

from contexts.inventory import public as inventory
from contexts.orders import saga
from contexts.orders.models import Order, OrderSummary, SagaState
from contexts.orders.saga import engine
from contexts.orders.saga.outcomes import Move
from contexts.payments import public as payments
from contexts.payments.contracts import PaymentGatewayUnavailable

pytestmark = pytest.mark.django_db


class WorkerDied(BaseException):
    """Stands for a SIGKILL: not an Exception, so nothing in the saga catches it."""


def history_types(order_id) -> list[str]:
    return [e.type for e in Order.objects.get(pk=order_id).history.order_by("sequence")]


def expire_lease(order_id) -> None:
    """Time passes: the lease of the runner that held the saga runs out."""
    SagaState.objects.filter(order_id=order_id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=60),
        updated_at=timezone.now() - timedelta(seconds=60),
    )


# --- outcomes -------------------------------------------------------------------


def die_after_the_charge(order_id, monkeypatch) -> None:
    """Run the order's saga until the gateway has charged, then kill the runner."""
    real_charge = payments.charge_for_orders

    def charge_then_die(**kwargs):
        real_charge(**kwargs)
        raise WorkerDied

    monkeypatch.setattr(payments, "charge_for_orders", charge_then_die)
    with pytest.raises(WorkerDied):
        saga.saga_advance(order_id=order_id)
    monkeypatch.setattr(payments, "charge_for_orders", real_charge)


def test_happy_path_confirms_commits_stock_and_captures_once(
    place_order, make_product, run_saga, stock_of, orders_outbox
):
    product = make_product(stock=5)
    order_id = place_order(product, quantity=2)["id"]

    order = run_saga(order_id)

    assert (order.status, order.cancel_reason) == ("CONFIRMED", None)
    assert history_types(order_id) == [
        "ORDER_PLACED",
        "STOCK_RESERVED",
        "PAYMENT_CAPTURED",
        "ORDER_CONFIRMED",
    ]
    assert stock_of(product["id"]) == {
        "product_id": product["id"],
        "on_hand": 3,
        "reserved": 0,
        "available": 3,
    }
    payment = payments.get_payment_for_order(order_id=order.id)
    assert (payment.status, str(payment.amount)) == ("CAPTURED", order.total.to_eng_string())
    assert orders_outbox.filter(event_name="orders.OrderConfirmed").count() == 1
    assert OrderSummary.objects.get(order_id=order_id).status == "CONFIRMED"


def test_out_of_stock_cancels_without_charging(
    place_order, make_product, run_saga, stock_of, orders_outbox
):
    product = make_product(stock=1)
    order_id = place_order(product, quantity=2)["id"]

    order = run_saga(order_id)

    assert (order.status, order.cancel_reason) == ("CANCELLED", "OUT_OF_STOCK")
    assert history_types(order_id) == [
        "ORDER_PLACED",
        "STOCK_RESERVATION_FAILED",
        "ORDER_CANCELLED",
    ]
    assert payments.get_payment_for_order(order_id=order.id) is None
    assert stock_of(product["id"])["available"] == 1
    cancelled = orders_outbox.get(event_name="orders.OrderCancelled")
    assert cancelled.payload["reason"] == "OUT_OF_STOCK"


def test_declined_payment_releases_stock_and_cancels(place_order, make_product, run_saga, stock_of):
    product = make_product(stock=3)
    order_id = place_order(product, quantity=2, token="tok_decline_insufficient_funds")["id"]

    order = run_saga(order_id)

    assert (order.status, order.cancel_reason) == ("CANCELLED", "PAYMENT_DECLINED")
    assert history_types(order_id) == [
        "ORDER_PLACED",
        "STOCK_RESERVED",
        "PAYMENT_DECLINED",
        "STOCK_RELEASED",
        "ORDER_CANCELLED",
    ]
    assert stock_of(product["id"]) == {
        "product_id": product["id"],
        "on_hand": 3,
        "reserved": 0,
        "available": 3,
    }


def test_a_gateway_failing_once_is_retried_and_charges_once(place_order, make_product, run_saga):
    product = make_product(stock=3)
    order_id = place_order(product, token="tok_fail_once")["id"]

    order = run_saga(order_id)

    assert order.status == "CONFIRMED"
    types = history_types(order_id)
    assert types.count("PAYMENT_RETRY_SCHEDULED") == 1
    assert types.count("PAYMENT_CAPTURED") == 1
    assert payments.get_payment_for_order(order_id=order.id).status == "CAPTURED"


def test_a_gateway_that_keeps_failing_ends_payment_failed(
    place_order, make_product, run_saga, stock_of, settings
):
    settings.ORDERS_PAYMENT_MAX_ATTEMPTS = 3
    product = make_product(stock=3)
    order_id = place_order(product, quantity=3, token="tok_fail")["id"]

    order = run_saga(order_id)

    assert (order.status, order.cancel_reason) == ("CANCELLED", "PAYMENT_FAILED")
    assert history_types(order_id) == [
        "ORDER_PLACED",
        "STOCK_RESERVED",
        "PAYMENT_RETRY_SCHEDULED",
        "PAYMENT_RETRY_SCHEDULED",
        "PAYMENT_FAILED",
        "STOCK_RELEASED",
        "ORDER_CANCELLED",
    ]
    assert stock_of(product["id"])["available"] == 3
    assert payments.get_payment_for_order(order_id=order.id).status != "CAPTURED"


def test_a_product_deleted_after_placement_is_unavailable(
    place_order, make_product, seller, run_saga
):
    product = make_product(stock=3)
    order_id = place_order(product)["id"]
    assert seller.delete(f"/api/products/{product['id']}").status_code == 204

    order = run_saga(order_id)

    assert (order.status, order.cancel_reason) == ("CANCELLED", "PRODUCT_UNAVAILABLE")
    assert inventory.get_stock_level(UUID(product["id"])).reserved == 0
    assert payments.get_payment_for_order(order_id=order.id) is None


def test_a_finished_saga_does_nothing_more(place_order, make_product, run_saga):
    order_id = place_order(make_product())["id"]
    run_saga(order_id)
    last = Order.objects.get(pk=order_id).last_sequence

    assert saga.saga_advance(order_id=order_id) is False
    assert Order.objects.get(pk=order_id).last_sequence == last


# --- after the pivot --------------------------------------------------------------


def test_confirm_failing_once_still_confirms_with_one_charge(
    place_order, make_product, run_saga, stock_of, monkeypatch
):
    """After the payment is captured, only forward."""
    product = make_product(stock=2)
    order_id = place_order(product)["id"]
    real_commit = inventory.commit_stock_for_orders
    calls = []

    def commit_failing_once(*, order_ids):
        calls.append(order_ids)
        if len(calls) == 1:
            raise ConnectionError("inventory unreachable")
        return real_commit(order_ids=order_ids)

    monkeypatch.setattr(inventory, "commit_stock_for_orders", commit_failing_once)

    order = run_saga(order_id)

    assert order.status == "CONFIRMED"
    assert len(calls) == 2
    assert history_types(order_id).count("PAYMENT_CAPTURED") == 1
    assert "PAYMENT_REFUNDED" not in history_types(order_id)
    assert payments.get_payment_for_order(order_id=order.id).status == "CAPTURED"
    assert stock_of(product["id"])["on_hand"] == 1


def test_a_reservation_expired_after_capture_is_refunded_and_cancelled(
    place_order, make_product, run_saga, stock_of, monkeypatch
):
    product = make_product(stock=2)
    order_id = place_order(product)["id"]
    real_commit = inventory.commit_stock_for_orders

    def commit_after_expiry(*, order_ids):
        # The reservation's time ran out between the charge and the commit.
        inventory.expire_reservations(now=timezone.now() + timedelta(days=1))
        return real_commit(order_ids=order_ids)

    monkeypatch.setattr(inventory, "commit_stock_for_orders", commit_after_expiry)

    order = run_saga(order_id)

    assert (order.status, order.cancel_reason) == ("CANCELLED", "OUT_OF_STOCK")
    assert history_types(order_id)[-3:] == [
        "STOCK_RESERVATION_FAILED",
        "PAYMENT_REFUNDED",
        "ORDER_CANCELLED",
    ]
    assert payments.get_payment_for_order(order_id=order.id).status == "REFUNDED"
    assert stock_of(product["id"]) == {
        "product_id": product["id"],
        "on_hand": 2,
        "reserved": 0,
        "available": 2,
    }


# --- crashes, leases, the sweep -----------------------------------------------------


def test_a_runner_dying_after_the_charge_is_resumed_without_a_second_charge(
    place_order, make_product, run_saga, stock_of, monkeypatch
):
    """The step is repeated, idempotently, once the lease runs out."""
    product = make_product(stock=4)
    order_id = place_order(product, quantity=2)["id"]
    die_after_the_charge(order_id, monkeypatch)
    state = SagaState.objects.get(order_id=order_id)
    # Nothing was written after the claim: the reservation is recorded with what follows.
    assert (state.step, state.status) == ("RESERVE_STOCK", "ACTIVE")

    # While the dead runner's lease lasts, nobody else runs the step.
    assert saga.saga_advance(order_id=order_id) is False
    assert saga.saga_resume_stalled() == 0
    expire_lease(order_id)
    assert saga.saga_resume_stalled() == 1
    order = run_saga(order_id)

    assert order.status == "CONFIRMED"
    assert history_types(order_id).count("PAYMENT_CAPTURED") == 1
    assert payments.get_payment_for_order(order_id=order.id).status == "CAPTURED"
    assert stock_of(product["id"]) == {
        "product_id": product["id"],
        "on_hand": 2,
        "reserved": 0,
        "available": 2,
    }


def test_a_runner_that_lost_its_lease_cannot_move_the_saga(place_order, make_product):
    order_id = place_order(make_product())["id"]
    now = timezone.now()
    stale = engine.claim_one(order_id=order_id, now=now)
    expire_lease(order_id)
    current = engine.claim_one(order_id=order_id, now=timezone.now())

    assert stale is not None and current is not None
    assert engine.apply([Move(stale, step="CHARGE_PAYMENT")]) == []
    assert engine.apply([Move(current, step="CHARGE_PAYMENT")]) == [current]
    assert SagaState.objects.get(order_id=order_id).step == "CHARGE_PAYMENT"


def test_the_reservation_and_capture_are_written_with_the_confirmation(
    place_order, make_product, monkeypatch
):
    """Between the claim and the confirmation nothing is written: a runner dying there
    leaves the saga at the reserve step, and the next one repeats it and replays the
    capture."""
    product = make_product(stock=4)
    order_id = place_order(product, quantity=2)["id"]
    real_commit = inventory.commit_stock_for_orders

    def die_before_committing(**kwargs):
        state = SagaState.objects.get(order_id=order_id)
        assert (state.step, state.attempts) == ("RESERVE_STOCK", 1)
        assert history_types(order_id) == ["ORDER_PLACED"]
        raise WorkerDied

    monkeypatch.setattr(inventory, "commit_stock_for_orders", die_before_committing)
    with pytest.raises(WorkerDied):
        saga.saga_advance(order_id=order_id)
    monkeypatch.setattr(inventory, "commit_stock_for_orders", real_commit)
    assert payments.get_payment_for_order(order_id=UUID(order_id)).status == "CAPTURED"

    expire_lease(order_id)
    assert saga.saga_resume_stalled() == 1

    assert Order.objects.get(pk=order_id).status == "CONFIRMED"
    assert history_types(order_id) == [
        "ORDER_PLACED",
        "STOCK_RESERVED",
        "PAYMENT_CAPTURED",
        "ORDER_CONFIRMED",
    ]
    assert payments.get_payment_for_order(order_id=UUID(order_id)).status == "CAPTURED"


def test_a_failure_after_the_capture_writes_the_capture_with_the_retry(
    place_order, make_product, run_saga, monkeypatch
):
    order_id = place_order(make_product(stock=4))["id"]
    real_commit = inventory.commit_stock_for_orders

    def inventory_down(**kwargs):
        raise DatabaseError("inventory is down")

    monkeypatch.setattr(inventory, "commit_stock_for_orders", inventory_down)
    saga.saga_advance(order_id=order_id)

    state = SagaState.objects.get(order_id=order_id)
    assert (state.step, state.attempts, state.status) == ("CONFIRM_ORDER", 1, "ACTIVE")
    assert "inventory is down" in state.last_error
    assert history_types(order_id) == ["ORDER_PLACED", "STOCK_RESERVED", "PAYMENT_CAPTURED"]
    monkeypatch.setattr(inventory, "commit_stock_for_orders", real_commit)
    assert run_saga(order_id).status == "CONFIRMED"
    assert history_types(order_id).count("PAYMENT_CAPTURED") == 1


def test_a_saga_resumed_after_its_reservation_expired_refunds_what_it_may_have_charged(
    place_order, make_product, stock_of, monkeypatch
):
    """The runner died after the charge; by the time another resumes the saga (still at
    the reserve step) the reservation has expired: the order is cancelled and refunded."""
    product = make_product(stock=2)
    order_id = place_order(product)["id"]
    die_after_the_charge(order_id, monkeypatch)
    inventory.expire_reservations(now=timezone.now() + timedelta(days=1))
    expire_lease(order_id)

    assert saga.saga_resume_stalled() == 1

    order = Order.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason) == ("CANCELLED", "OUT_OF_STOCK")
    assert history_types(order_id)[-3:] == [
        "STOCK_RESERVATION_FAILED",
        "PAYMENT_REFUNDED",
        "ORDER_CANCELLED",
    ]
    assert payments.get_payment_for_order(order_id=order.id).status == "REFUNDED"
    assert stock_of(product["id"])["available"] == 2


def test_a_reserve_that_never_answered_in_time_cancels_without_asking_for_a_refund(
    place_order, make_product, stock_of, monkeypatch
):
    product = make_product(stock=2)
    order_id = place_order(product)["id"]

    def killed_while_inventory_hangs(**kwargs):
        raise WorkerDied

    monkeypatch.setattr(inventory, "reserve_stock_for_orders", killed_while_inventory_hangs)
    with pytest.raises(WorkerDied):
        saga.saga_advance(order_id=order_id)
    monkeypatch.undo()
    SagaState.objects.filter(order_id=order_id).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    expire_lease(order_id)

    assert saga.saga_resume_stalled() == 1

    order = Order.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason) == ("CANCELLED", "OUT_OF_STOCK")
    assert "PAYMENT_REFUNDED" not in history_types(order_id)
    assert payments.get_payment_for_order(order_id=order.id) is None  # never charged
    assert stock_of(product["id"])["available"] == 2


def test_the_sweep_resumes_only_overdue_sagas_once_per_grace_period(place_order, make_product):
    fresh = place_order(make_product())["id"]
    overdue = place_order(make_product())["id"]
    expire_lease(overdue)

    assert saga.saga_resume_stalled() == 1
    assert saga.saga_resume_stalled() == 0  # just re-enqueued: not again before the grace
    assert SagaState.objects.get(order_id=fresh).attempts == 0


def test_a_step_past_its_deadline_compensates(
    place_order, make_product, run_saga, stock_of, monkeypatch
):
    """A charge that never answers in time ends the order, and gives back what it took."""
    product = make_product(stock=2)
    order_id = place_order(product)["id"]
    die_after_the_charge(order_id, monkeypatch)  # the money is taken; the runner never learns it
    SagaState.objects.filter(order_id=order_id).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    expire_lease(order_id)

    order = run_saga(order_id)

    assert (order.status, order.cancel_reason) == ("CANCELLED", "PAYMENT_FAILED")
    assert stock_of(product["id"])["available"] == 2
    assert payments.get_payment_for_order(order_id=UUID(order_id)).status == "REFUNDED"


# --- customer cancel ------------------------------------------------------------------


def test_customer_cancel_of_a_confirmed_order_refunds_and_restocks_once(
    auth_client, place_order, make_product, run_saga, stock_of
):
    product = make_product(stock=5)
    order_id = place_order(product, quantity=2)["id"]
    run_saga(order_id)

    response = auth_client.post(f"/api/orders/{order_id}/cancel")
    again = auth_client.post(f"/api/orders/{order_id}/cancel")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "CANCELLED"
    assert response.json()["cancel_reason"] == "CUSTOMER_CANCELLED"
    assert again.status_code == 409
    assert payments.get_payment_for_order(order_id=order_id).status == "REFUNDED"
    assert stock_of(product["id"]) == {
        "product_id": product["id"],
        "on_hand": 5,
        "reserved": 0,
        "available": 5,
    }
    assert history_types(order_id)[-3:] == [
        "ORDER_CANCELLED",
        "PAYMENT_REFUNDED",
        "STOCK_RESTOCKED",
    ]
    assert SagaState.objects.get(order_id=order_id).status == "DONE"
    assert OrderSummary.objects.get(order_id=order_id).cancel_reason == "CUSTOMER_CANCELLED"


def test_cancel_while_pending_is_a_conflict_and_the_saga_goes_on(
    auth_client, place_order, make_product, run_saga
):
    order_id = place_order(make_product())["id"]

    response = auth_client.post(f"/api/orders/{order_id}/cancel")

    assert response.status_code == 409
    assert "detail" in response.json()
    assert run_saga(order_id).status == "CONFIRMED"


def test_cancel_of_a_saga_cancelled_order_is_a_conflict(
    auth_client, place_order, make_product, run_saga
):
    order_id = place_order(make_product(stock=0))["id"]
    run_saga(order_id)

    response = auth_client.post(f"/api/orders/{order_id}/cancel")

    assert response.status_code == 409
    assert Order.objects.get(pk=order_id).cancel_reason == "OUT_OF_STOCK"


def test_a_refund_failing_during_cancel_is_retried_until_done(
    auth_client, place_order, make_product, run_saga, stock_of, monkeypatch
):
    """Compensations are retried until done, and happen once."""
    product = make_product(stock=3)
    order_id = place_order(product)["id"]
    run_saga(order_id)
    real_refund = payments.refund_for_order
    failures: list[UUID] = []

    def refund_failing_twice(*, order_id):
        if len(failures) < 2:
            failures.append(order_id)
            raise PaymentGatewayUnavailable("gateway timeout")
        return real_refund(order_id=order_id)

    monkeypatch.setattr(payments, "refund_for_order", refund_failing_twice)

    response = auth_client.post(f"/api/orders/{order_id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    state = SagaState.objects.get(order_id=order_id)
    # The stock did not wait for the refund: only the refund is left to retry.
    assert (state.step, state.status) == ("REFUND_PAYMENT", "ACTIVE")
    assert stock_of(product["id"])["on_hand"] == 3
    order = run_saga(order_id)
    assert order.status == "CANCELLED"
    assert len(failures) == 2
    assert payments.get_payment_for_order(order_id=order_id).status == "REFUNDED"
    assert history_types(order_id).count("PAYMENT_REFUNDED") == 1
    assert stock_of(product["id"])["on_hand"] == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_cancels_cancel_once(
    user, make_auth_client, place_order, make_product, run_saga, stock_of
):
    product = make_product(stock=5)
    client = make_auth_client(user)
    order_id = place_order(product, quantity=2, client=client)["id"]
    run_saga(order_id)
    barrier = threading.Barrier(4)
    statuses = []
    lock = threading.Lock()

    def cancel():
        mine = make_auth_client(user)
        try:
            barrier.wait(timeout=30)
            response = mine.post(f"/api/orders/{order_id}/cancel")
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=cancel) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200, 409, 409, 409]
    assert history_types(order_id).count("ORDER_CANCELLED") == 1
    assert history_types(order_id).count("PAYMENT_REFUNDED") == 1
    assert stock_of(product["id"])["on_hand"] == 5


def test_a_cancel_while_the_saga_is_paying_is_refused(
    auth_client, place_order, make_product, run_saga, monkeypatch
):
    """Status changes are conditional, so only legal final states occur."""
    product = make_product(stock=2)
    order_id = place_order(product)["id"]
    real_charge = payments.charge_for_orders
    answers = []

    def charge_while_the_customer_cancels(**kwargs):
        answers.append(auth_client.post(f"/api/orders/{order_id}/cancel").status_code)
        return real_charge(**kwargs)

    monkeypatch.setattr(payments, "charge_for_orders", charge_while_the_customer_cancels)

    order = run_saga(order_id)

    assert answers == [409]
    assert (order.status, order.cancel_reason) == ("CONFIRMED", None)
    assert history_types(order_id).count("ORDER_CANCELLED") == 0


def test_staff_may_cancel_another_users_confirmed_order(
    place_order, make_product, run_saga, staff_user, make_auth_client
):
    order_id = place_order(make_product())["id"]
    run_saga(order_id)

    response = make_auth_client(staff_user).post(f"/api/orders/{order_id}/cancel")

    assert response.status_code == 200
    assert response.json()["cancel_reason"] == "CUSTOMER_CANCELLED"
    assert payments.get_payment_for_order(order_id=order_id).status == "REFUNDED"
