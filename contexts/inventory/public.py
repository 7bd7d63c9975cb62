"""The inventory context's public interface: the only functions other contexts may call.

Functions take and return plain data: primitives and the types of
``contexts.inventory.contracts``, where the errors they raise
(``InventoryError``, ``OutOfStock``, ``ReservationNotHeld``) live too.

The order saga drives a reservation through these steps, each idempotent per
order id (reserve and commit also for many orders in one transaction, each
order's outcome reported on its own)::

    reserve_stock_for_order ──► commit_stock_for_order ──► restock_for_order
            │                         (order confirmed)       (customer cancel)
            └──► release_stock_for_order / expire_reservations
                     (order cancelled or failed / abandoned)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from contexts.inventory import selectors, services
from contexts.inventory.contracts import OrderStock, StockLevelInfo, StockLine, StockOutcome

__all__ = [
    "commit_stock_for_order",
    "commit_stock_for_orders",
    "expire_reservations",
    "get_stock_level",
    "release_stock_for_order",
    "reserve_stock_for_order",
    "reserve_stock_for_orders",
    "restock_for_order",
]


def reserve_stock_for_order(*, order_id: UUID, lines: Sequence[StockLine]) -> None:
    """Hold stock for every line of the order, or for none.

    Raises ``OutOfStock`` (with the short ``product_ids``), leaving stock
    untouched. Idempotent: a second call after success does nothing; after the
    reservation was released or restocked it raises ``ReservationNotHeld``
    rather than reserving again. Lines of one product add up; ``ValueError``
    for no lines or a quantity that is not a positive integer. The hold
    expires after ``INVENTORY_RESERVATION_TTL_SECONDS`` unless committed.
    """
    services.reserve_stock_for_order(order_id=order_id, lines=lines)


def reserve_stock_for_orders(*, requests: Sequence[OrderStock]) -> dict[UUID, StockOutcome]:
    """``reserve_stock_for_order`` for many orders in one transaction.

    Returns each order's ``StockOutcome``: ``DONE`` when its stock is held (now
    or before), else what ``reserve_stock_for_order`` would have raised for it
    (``OUT_OF_STOCK`` with the short products, ``NOT_HELD``; ``error()`` gives
    the exception): one order's shortage never fails the others. Orders are
    served in the order given. ``ValueError`` (nothing reserved) for a request
    without lines or with a quantity that is not a positive integer.
    """
    outcomes = services.reserve_stock_for_orders(requests=requests)
    return {order_id: StockOutcome.of(order_id, error) for order_id, error in outcomes.items()}


def commit_stock_for_orders(*, order_ids: Sequence[UUID]) -> dict[UUID, StockOutcome]:
    """``commit_stock_for_order`` for many orders in one transaction.

    Returns each order's ``StockOutcome``: ``DONE`` when its stock was
    committed (now or before), else ``NOT_HELD`` (what the single call raises
    as ``ReservationNotHeld``).
    """
    outcomes = services.commit_stock_for_orders(order_ids=order_ids)
    return {order_id: StockOutcome.of(order_id, error) for order_id, error in outcomes.items()}


def commit_stock_for_order(*, order_id: UUID) -> None:
    """The order is confirmed: the held quantities leave stock (``on_hand`` and
    ``reserved`` both drop).

    Idempotent. Raises ``ReservationNotHeld`` if the reservation was released
    (cancelled, failed, expired) or never made.
    """
    services.commit_stock_for_order(order_id=order_id)


def release_stock_for_order(*, order_id: UUID, reason: str) -> None:
    """Give back the stock the order holds (``reserved`` drops); ``reason`` is recorded
    and published with ``StockReleased``.

    Idempotent; a no-op when nothing is held, including an order already
    committed (which stays committed: see ``restock_for_order``).
    """
    services.release_stock_for_order(order_id=order_id, reason=reason)


def restock_for_order(*, order_id: UUID) -> None:
    """A confirmed order was cancelled by the customer: its committed quantities go
    back on hand.

    Idempotent. A hold that was never committed is released instead; an order
    with nothing held or committed is left alone.
    """
    services.restock_for_order(order_id=order_id)


def get_stock_level(product_id: UUID) -> StockLevelInfo:
    """The product's stock; zero for a product the inventory has no row for."""
    level = selectors.get_stock_level(product_id=product_id)
    return StockLevelInfo(
        product_id=level.product_id,
        on_hand=level.on_hand,
        reserved=level.reserved,
        available=level.available,
    )


def expire_reservations(*, now: datetime | None = None) -> int:
    """Release every reservation held past its expiry (default: now); returns how
    many orders' reservations were released. Beat runs it as the task
    ``inventory.expire_reservations``.
    """
    return services.expire_reservations(now=now)
