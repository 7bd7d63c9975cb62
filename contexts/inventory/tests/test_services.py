"""The inventory's saga steps and stock adjustments, through its public interface."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from contexts.inventory import contracts, services, tasks
from contexts.inventory.contracts import OutOfStock, ReservationNotHeld, StockLevelInfo, StockLine
from contexts.inventory.errors import AdjustmentConflict, InvalidAdjustment
from contexts.inventory.events import StockDepleted, StockReleased, StockReserved
from contexts.inventory.models import MAX_QUANTITY, Reservation, StockAdjustment, StockLevel
from contexts.inventory.public import (
    commit_stock_for_order,
    expire_reservations,
    get_stock_level,
    release_stock_for_order,
    reserve_stock_for_order,
    restock_for_order,
)
from contexts.inventory.tests.factories import StockLevelFactory
from contexts.kernel.databases import database_for
from contexts.kernel.models import OutboxMessage

pytestmark = pytest.mark.django_db


def published(event_cls) -> list[dict]:
    rows = OutboxMessage.objects.using(database_for("inventory")).filter(event_name=event_cls.name)
    return [row.payload for row in rows.order_by("created_at")]


def level(product_id) -> tuple[int, int, int]:
    info = get_stock_level(product_id)
    return info.on_hand, info.reserved, info.available


def statuses(order_id) -> set[str]:
    return set(Reservation.objects.filter(order_id=order_id).values_list("status", flat=True))


@pytest.fixture
def two_products():
    return StockLevelFactory(on_hand=10).product_id, StockLevelFactory(on_hand=5).product_id


# --- get_stock_level --------------------------------------------------------------------


def test_a_product_without_a_row_has_zero_stock():
    product_id = uuid.uuid4()

    assert get_stock_level(product_id) == StockLevelInfo(
        product_id=product_id, on_hand=0, reserved=0, available=0
    )


# --- reserve ------------------------------------------------------------------------------


def test_reserve_holds_every_line_and_publishes_stock_reserved(two_products):
    a, b = two_products
    order_id = uuid.uuid4()

    reserve_stock_for_order(
        order_id=order_id, lines=[StockLine(product_id=a, quantity=3), StockLine(b, 2)]
    )

    assert level(a) == (10, 3, 7)
    assert level(b) == (5, 2, 3)
    assert statuses(order_id) == {"RESERVED"}
    [event] = published(StockReserved)
    assert event["order_id"] == str(order_id)
    assert sorted((line["product_id"], line["quantity"]) for line in event["lines"]) == sorted(
        [(str(a), 3), (str(b), 2)]
    )
    assert published(StockDepleted) == []


def test_reserve_expires_after_the_configured_ttl(settings, two_products):
    settings.INVENTORY_RESERVATION_TTL_SECONDS = 60
    a, _ = two_products
    order_id = uuid.uuid4()
    before = timezone.now()

    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 1)])

    expires_at = Reservation.objects.get(order_id=order_id).expires_at
    assert before + timedelta(seconds=60) <= expires_at <= timezone.now() + timedelta(seconds=60)


def test_reserving_the_last_units_publishes_stock_depleted(two_products):
    _, b = two_products

    reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(b, 5)])

    assert level(b) == (5, 5, 0)
    assert published(StockDepleted) == [{"product_id": str(b)}]


def test_out_of_stock_names_the_short_products_and_holds_nothing(two_products):
    a, b = two_products
    unknown = uuid.uuid4()
    order_id = uuid.uuid4()

    with pytest.raises(OutOfStock) as raised:
        reserve_stock_for_order(
            order_id=order_id,
            lines=[StockLine(a, 3), StockLine(b, 6), StockLine(unknown, 1)],
        )

    assert set(raised.value.product_ids) == {b, unknown}
    assert raised.value.http_status == 409
    assert level(a) == (10, 0, 10)
    assert level(b) == (5, 0, 5)
    assert statuses(order_id) == set()
    assert published(StockReserved) == []


def test_an_order_refused_for_stock_may_try_again_once_stock_arrives(two_products):
    _, b = two_products
    order_id = uuid.uuid4()
    with pytest.raises(OutOfStock):
        reserve_stock_for_order(order_id=order_id, lines=[StockLine(b, 6)])

    services.stock_adjust(product_id=b, delta=1)
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(b, 6)])

    assert level(b) == (6, 6, 0)


def test_reserve_is_idempotent_per_order(two_products):
    a, _ = two_products
    order_id = uuid.uuid4()

    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 4)])
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 4)])

    assert level(a) == (10, 4, 6)
    assert Reservation.objects.filter(order_id=order_id).count() == 1
    assert len(published(StockReserved)) == 1


def test_reserve_after_commit_is_a_no_op(two_products):
    a, _ = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 4)])
    commit_stock_for_order(order_id=order_id)

    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 4)])

    assert level(a) == (6, 0, 6)


@pytest.mark.parametrize("give_back", ["release", "expire", "restock"])
def test_an_order_given_back_is_never_reserved_again(two_products, give_back):
    a, _ = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 4)])
    if give_back == "release":
        release_stock_for_order(order_id=order_id, reason="PAYMENT_DECLINED")
    elif give_back == "expire":
        expire_reservations(now=timezone.now() + timedelta(days=1))
    else:
        commit_stock_for_order(order_id=order_id)
        restock_for_order(order_id=order_id)
    before = level(a)

    with pytest.raises(ReservationNotHeld):
        reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 4)])

    assert level(a) == before


def test_lines_of_one_product_add_up(two_products):
    a, _ = two_products

    reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(a, 2), StockLine(a, 3)])

    assert level(a) == (10, 5, 5)


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5, "2"])
def test_reserve_refuses_a_quantity_that_is_not_a_positive_integer(two_products, quantity):
    a, _ = two_products

    with pytest.raises(ValueError):
        reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(a, quantity)])

    assert level(a) == (10, 0, 10)


def test_reserve_refuses_no_lines():
    with pytest.raises(ValueError):
        reserve_stock_for_order(order_id=uuid.uuid4(), lines=[])


# --- commit -------------------------------------------------------------------------------


def test_commit_takes_the_held_stock_off_hand(two_products):
    a, b = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 3), StockLine(b, 5)])

    commit_stock_for_order(order_id=order_id)
    commit_stock_for_order(order_id=order_id)  # idempotent

    assert level(a) == (7, 0, 7)
    assert level(b) == (0, 0, 0)
    assert statuses(order_id) == {"COMMITTED"}


def test_commit_without_a_reservation_raises():
    with pytest.raises(ReservationNotHeld):
        commit_stock_for_order(order_id=uuid.uuid4())


def test_commit_after_release_raises_and_changes_nothing(two_products):
    a, _ = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 3)])
    release_stock_for_order(order_id=order_id, reason="CUSTOMER_CANCELLED")

    with pytest.raises(ReservationNotHeld):
        commit_stock_for_order(order_id=order_id)

    assert level(a) == (10, 0, 10)
    assert statuses(order_id) == {"RELEASED"}


def test_commit_of_a_reservation_past_expiry_but_not_yet_swept_succeeds(two_products):
    a, _ = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 3)])
    Reservation.objects.filter(order_id=order_id).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    commit_stock_for_order(order_id=order_id)

    assert level(a) == (7, 0, 7)
    assert expire_reservations() == 0


# --- release ------------------------------------------------------------------------------


def test_release_gives_the_stock_back_once(two_products):
    a, b = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 3), StockLine(b, 1)])

    release_stock_for_order(order_id=order_id, reason="PAYMENT_DECLINED")
    release_stock_for_order(order_id=order_id, reason="PAYMENT_DECLINED")

    assert level(a) == (10, 0, 10)
    assert level(b) == (5, 0, 5)
    assert statuses(order_id) == {"RELEASED"}
    assert published(StockReleased) == [{"order_id": str(order_id), "reason": "PAYMENT_DECLINED"}]


def test_release_of_nothing_is_a_no_op():
    release_stock_for_order(order_id=uuid.uuid4(), reason="OUT_OF_STOCK")

    assert published(StockReleased) == []


def test_release_leaves_a_committed_order_committed(two_products):
    a, _ = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 3)])
    commit_stock_for_order(order_id=order_id)

    release_stock_for_order(order_id=order_id, reason="late")

    assert level(a) == (7, 0, 7)
    assert statuses(order_id) == {"COMMITTED"}


# --- restock ------------------------------------------------------------------------------


def test_restock_puts_committed_quantities_back_on_hand_once(two_products):
    a, b = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 3), StockLine(b, 2)])
    commit_stock_for_order(order_id=order_id)

    restock_for_order(order_id=order_id)
    restock_for_order(order_id=order_id)
    commit_stock_for_order(order_id=order_id)  # a late commit re-run changes nothing

    assert level(a) == (10, 0, 10)
    assert level(b) == (5, 0, 5)
    assert statuses(order_id) == {"RESTOCKED"}


def test_restock_of_a_hold_never_committed_releases_it(two_products):
    a, _ = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 3)])

    restock_for_order(order_id=order_id)

    assert level(a) == (10, 0, 10)
    assert statuses(order_id) == {"RELEASED"}


def test_restock_of_nothing_is_a_no_op(two_products):
    a, _ = two_products

    restock_for_order(order_id=uuid.uuid4())

    assert level(a) == (10, 0, 10)


# --- expiry: an abandoned reservation is released (docs/reliability.md#abandoned-reservation)


def test_expired_reservations_are_released_by_the_sweep(two_products):
    a, b = two_products
    expired, fresh = uuid.uuid4(), uuid.uuid4()
    reserve_stock_for_order(order_id=expired, lines=[StockLine(a, 3), StockLine(b, 1)])
    reserve_stock_for_order(order_id=fresh, lines=[StockLine(a, 2)])
    Reservation.objects.filter(order_id=expired).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert expire_reservations() == 1

    assert level(a) == (10, 2, 8)
    assert level(b) == (5, 0, 5)
    assert statuses(expired) == {"RELEASED"}
    assert statuses(fresh) == {"RESERVED"}
    assert published(StockReleased) == [{"order_id": str(expired), "reason": "expired"}]
    with pytest.raises(ReservationNotHeld):
        commit_stock_for_order(order_id=expired)
    assert expire_reservations() == 0


def test_a_one_second_reservation_is_available_again_after_expiry(settings, two_products):
    settings.INVENTORY_RESERVATION_TTL_SECONDS = 1
    _, b = two_products
    reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(b, 5)])
    assert level(b) == (5, 5, 0)

    assert expire_reservations(now=timezone.now() + timedelta(seconds=1)) == 1

    assert level(b) == (5, 0, 5)


def test_the_sweep_task_releases_expired_reservations(two_products):
    a, _ = two_products
    order_id = uuid.uuid4()
    reserve_stock_for_order(order_id=order_id, lines=[StockLine(a, 1)])
    Reservation.objects.filter(order_id=order_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert tasks.expire_reservations.name == "inventory.expire_reservations"
    assert tasks.expire_reservations() == 1
    assert level(a) == (10, 0, 10)


def test_the_sweep_works_through_more_than_one_batch(monkeypatch, two_products):
    monkeypatch.setattr(services, "EXPIRY_BATCH_SIZE", 2)
    a, _ = two_products
    for _ in range(5):
        reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(a, 1)])

    assert expire_reservations(now=timezone.now() + timedelta(days=1)) == 5

    assert level(a) == (10, 0, 10)


# --- adjustments --------------------------------------------------------------------------


def test_adjust_creates_the_row_and_logs_who_and_why():
    product_id, actor_id = uuid.uuid4(), uuid.uuid4()

    services.stock_adjust(product_id=product_id, delta=7, reason="delivery", actor_id=actor_id)
    services.stock_adjust(product_id=product_id, delta=-2, reason="broken")

    assert level(product_id) == (5, 0, 5)
    log = list(
        StockAdjustment.objects.filter(product_id=product_id)
        .order_by("created_at", "id")
        .values_list("delta", "reason", "actor_id", "on_hand_after")
    )
    assert log == [(7, "delivery", actor_id, 7), (-2, "broken", None, 5)]


def test_adjust_may_not_leave_less_on_hand_than_is_reserved(two_products):
    a, _ = two_products
    reserve_stock_for_order(order_id=uuid.uuid4(), lines=[StockLine(a, 8)])

    with pytest.raises(AdjustmentConflict):
        services.stock_adjust(product_id=a, delta=-3)

    services.stock_adjust(product_id=a, delta=-2)
    assert level(a) == (8, 8, 0)
    assert published(StockDepleted) == [{"product_id": str(a)}]


def test_adjust_may_not_go_below_zero():
    product_id = uuid.uuid4()

    with pytest.raises(AdjustmentConflict):
        services.stock_adjust(product_id=product_id, delta=-1)

    assert level(product_id) == (0, 0, 0)
    assert not StockAdjustment.objects.filter(product_id=product_id).exists()


def test_adjust_may_not_overflow():
    product_id = StockLevelFactory(on_hand=MAX_QUANTITY - 1).product_id

    with pytest.raises(InvalidAdjustment):
        services.stock_adjust(product_id=product_id, delta=2)

    assert level(product_id)[0] == MAX_QUANTITY - 1


# --- the database's own guard -----------------------------------------------------------------


def test_the_database_refuses_more_reserved_than_on_hand():
    stock = StockLevelFactory(on_hand=2)

    with pytest.raises(IntegrityError):
        StockLevel.objects.filter(pk=stock.pk).update(reserved=3)


def test_the_database_refuses_negative_reserved():
    stock = StockLevelFactory(on_hand=2)

    with pytest.raises(IntegrityError):
        StockLevel.objects.filter(pk=stock.pk).update(reserved=-1)


def test_exceptions_are_part_of_the_contracts():
    assert issubclass(contracts.OutOfStock, contracts.InventoryError)
    assert issubclass(contracts.ReservationNotHeld, contracts.InventoryError)
    error = contracts.OutOfStock([uuid.UUID(int=1)])
    import pickle

    assert pickle.loads(pickle.dumps(error)).product_ids == error.product_ids
