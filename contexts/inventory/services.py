"""Write use-cases of the inventory: each runs in one ``atomic("inventory")``.

Concurrency (no overselling, no deadlock between multi-line orders, no stock held
forever: docs/reliability.md#inventory):

- every use-case that changes stock locks the ``StockLevel`` rows it touches
  with ``SELECT ... FOR UPDATE`` in primary-key order, checks under the lock,
  then writes; so two orders can never oversell, and multi-line orders cannot
  deadlock each other (and would be retried if the database still said so);
- an order's reservation rows are locked only after its stock rows, in every
  use-case, so reserve, commit, release, restock and the expiry sweep of one
  order serialise on the same locks in the same order;
- the ``CHECK`` constraints of ``StockLevel`` are the last line of defence.

Every saga step is idempotent per order id: the reservation rows record what
was done, so a re-run step finds them and does nothing twice.
"""

from __future__ import annotations

import functools
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, IntegrityError
from django.utils import timezone

from contexts.catalog import public as catalog_public
from contexts.inventory.contracts import (
    InventoryError,
    OrderStock,
    OutOfStock,
    ReservationNotHeld,
    StockLine,
)
from contexts.inventory.errors import (
    AdjustmentConflict,
    InvalidAdjustment,
    NotProductOwner,
    ProductNotFound,
)
from contexts.inventory.events import ReservedLine, StockDepleted, StockReleased, StockReserved
from contexts.inventory.models import MAX_QUANTITY, Reservation, StockAdjustment, StockLevel
from contexts.kernel.bulk import update_rows
from contexts.kernel.outbox import insert_and_publish, publish
from contexts.kernel.transactions import atomic, in_transaction

logger = logging.getLogger(__name__)

CONTEXT = "inventory"
#: Deadlock (40P01) and serialization failure (40001): the transaction may simply be run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
MAX_ATTEMPTS = 6
EXPIRY_BATCH_SIZE = 200

Status = Reservation.Status
P = ParamSpec("P")
R = TypeVar("R")


def retry_on_deadlock(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` (which opens its own transaction) again if the database aborts it
    with a deadlock or serialization failure, with a short random backoff.

    Inside a transaction the caller opened there is nothing to retry (the whole
    transaction is lost), so the error propagates.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in itertools.count(1):
            try:
                return func(*args, **kwargs)
            except DatabaseError as exc:
                sqlstate = getattr(exc.__cause__, "sqlstate", None)
                if (
                    sqlstate not in RETRYABLE_SQLSTATES
                    or attempt >= MAX_ATTEMPTS
                    or in_transaction(CONTEXT)
                ):
                    raise
                logger.warning(
                    "%s: %s (sqlstate %s), retrying (attempt %d)",
                    func.__name__,
                    type(exc.__cause__).__name__,
                    sqlstate,
                    attempt + 1,
                )
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper


# --- the order saga's steps ---------------------------------------------------


def reserve_stock_for_order(*, order_id: UUID, lines: Sequence[StockLine]) -> None:
    """Hold stock for every line of the order, or for none (``OutOfStock``).

    Idempotent: if the order already holds (or has committed) its reservation,
    nothing happens. An order whose reservation was released (cancelled,
    failed, expired) or restocked is not reserved again: ``ReservationNotHeld``.
    """
    requests = [OrderStock(order_id=order_id, lines=tuple(lines))]
    error = reserve_stock_for_orders(requests=requests)[order_id]
    if error is not None:
        raise error


def reserve_stock_for_orders(
    *, requests: Sequence[OrderStock]
) -> dict[UUID, InventoryError | None]:
    """Hold stock for many orders in one transaction; per order None or its error.

    Each order gets all its lines or none, in the order given (an order
    served first may leave too little for a later one: ``OutOfStock`` for
    that one only). One statement locks every stock row the batch touches (in
    primary-key order), one reads the orders' earlier reservations, one writes
    the stock rows and one inserts the new reservations with their events.
    """
    wanted = {request.order_id: _quantities_by_product(request.lines) for request in requests}
    if not wanted:
        return {}
    try:
        return _reserve_many(wanted)
    except IntegrityError:
        # Only a concurrent run for the same order can collide on (order, product);
        # run again, it now finds that order's rows (and makes no new ones for it).
        return _reserve_many(wanted)


@retry_on_deadlock
def _reserve_many(wanted: dict[UUID, dict[UUID, int]]) -> dict[UUID, InventoryError | None]:
    now = timezone.now()
    expires_at = now + timedelta(seconds=reservation_ttl_seconds())
    outcomes: dict[UUID, InventoryError | None] = {}
    with atomic(CONTEXT):
        levels = _lock_levels({product_id for lines in wanted.values() for product_id in lines})
        # Checked under the stock locks: a concurrent run for the same order
        # locks the same rows, so this read sees what it committed.
        existing: dict[UUID, list[Reservation]] = {}
        for row in Reservation.objects.filter(order_id__in=list(wanted)):
            existing.setdefault(row.order_id, []).append(row)
        touched: dict[UUID, StockLevel] = {}
        reservations: list[Reservation] = []
        reserved: list[StockReserved] = []
        for order_id, lines in wanted.items():
            if order_id in existing:
                outcomes[order_id] = _reserved_before(order_id, existing[order_id])
                continue
            short = [
                product_id
                for product_id, quantity in lines.items()
                if product_id not in levels or levels[product_id].available < quantity
            ]
            if short:
                outcomes[order_id] = OutOfStock(short)
                continue
            for product_id, quantity in lines.items():
                level = touched[product_id] = levels[product_id]
                level.reserved += quantity
                level.updated_at = now
                reservations.append(
                    Reservation(
                        order_id=order_id,
                        product_id=product_id,
                        quantity=quantity,
                        status=Status.RESERVED,
                        expires_at=expires_at,
                    )
                )
            reserved.append(
                StockReserved(
                    order_id=order_id,
                    lines=tuple(
                        ReservedLine(product_id=product_id, quantity=quantity)
                        for product_id, quantity in lines.items()
                    ),
                )
            )
            outcomes[order_id] = None
        if touched:
            update_rows(touched.values(), ["reserved", "updated_at"])
            # The reservations and their events: one statement.
            insert_and_publish(
                [reservations],
                [
                    *reserved,
                    *(
                        StockDepleted(product_id=level.product_id)
                        for level in touched.values()
                        if level.available == 0
                    ),
                ],
                context=CONTEXT,
            )
    return outcomes


def commit_stock_for_order(*, order_id: UUID) -> None:
    """The order is confirmed: its held stock leaves ``on_hand`` (and ``reserved``).

    Idempotent: an order committed before is left alone. ``ReservationNotHeld``
    if the reservation was released (or expired and swept) or never made. A
    reservation past its expiry that the sweep has not released yet still holds
    its stock, so it commits.
    """
    error = commit_stock_for_orders(order_ids=[order_id])[order_id]
    if error is not None:
        raise error


@retry_on_deadlock
def commit_stock_for_orders(*, order_ids: Sequence[UUID]) -> dict[UUID, ReservationNotHeld | None]:
    """Commit many orders' reservations in one transaction; per order None or its error."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return {}
    outcomes: dict[UUID, ReservationNotHeld | None] = {}
    with atomic(CONTEXT):
        levels, rows = _lock_orders(ids, Status.RESERVED)
        held: dict[UUID, list[Reservation]] = {}
        for row in rows:
            held.setdefault(row.order_id, []).append(row)
        missing = [order_id for order_id in ids if order_id not in held]
        statuses: dict[UUID, set[str]] = {order_id: set() for order_id in missing}
        if missing:
            for order_id, status in Reservation.objects.filter(order_id__in=missing).values_list(
                "order_id", "status"
            ):
                statuses[order_id].add(status)
        for order_id in missing:
            if statuses[order_id] & {Status.COMMITTED, Status.RESTOCKED}:
                outcomes[order_id] = None
            elif statuses[order_id]:
                outcomes[order_id] = ReservationNotHeld(
                    order_id, f"The reservation of order {order_id} was released."
                )
            else:
                outcomes[order_id] = ReservationNotHeld(order_id)
        if rows:
            now = timezone.now()
            for row in rows:
                level = levels[row.product_id]
                level.on_hand -= row.quantity
                level.reserved -= row.quantity
                level.updated_at = now
            update_rows(
                {row.product_id: levels[row.product_id] for row in rows}.values(),
                ["on_hand", "reserved", "updated_at"],
            )
            Reservation.objects.filter(pk__in=[row.pk for row in rows]).update(
                status=Status.COMMITTED, updated_at=now
            )
        for order_id in held:
            outcomes[order_id] = None
    return {order_id: outcomes[order_id] for order_id in ids}


@retry_on_deadlock
def release_stock_for_order(*, order_id: UUID, reason: str) -> None:
    """Give back the stock the order holds (cancel, failure); publishes ``StockReleased``.

    Idempotent: nothing happens if the order holds nothing, was released
    already, or was committed (a committed order is restocked instead).
    """
    _release(order_id=order_id, reason=reason)


@retry_on_deadlock
def restock_for_order(*, order_id: UUID) -> None:
    """A confirmed order was cancelled by the customer: its committed quantities go
    back on hand.

    Idempotent. If the order's stock is still only held (the cancel overtook
    the commit), the hold is released instead; if nothing is held or
    committed, nothing happens.
    """
    with atomic(CONTEXT):
        levels, rows = _lock_order(order_id, Status.COMMITTED)
        if not rows:
            _release(order_id=order_id, reason="restocked before commit")
            return
        now = timezone.now()
        for row in rows:
            level = levels[row.product_id]
            level.on_hand += row.quantity
            level.updated_at = now
        update_rows(levels.values(), ["on_hand", "updated_at"])
        Reservation.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=Status.RESTOCKED, updated_at=now
        )


def expire_reservations(*, now: datetime | None = None) -> int:
    """Release every reservation still held past its expiry (reason ``"expired"``).

    Each order is released in its own transaction. Returns how many orders'
    reservations were released.
    """
    now = now or timezone.now()
    released = 0
    while True:
        order_ids = list(
            Reservation.objects.filter(status=Status.RESERVED, expires_at__lte=now)
            .order_by()
            .values_list("order_id", flat=True)
            .distinct()[:EXPIRY_BATCH_SIZE]
        )
        in_batch = sum(1 for order_id in order_ids if _release_expired(order_id=order_id, now=now))
        released += in_batch
        # A short batch was the last; a batch with no progress would repeat forever.
        if len(order_ids) < EXPIRY_BATCH_SIZE or in_batch == 0:
            return released


# --- stock levels -----------------------------------------------------------------


def stock_level_initialize(*, product_id: UUID) -> StockLevel:
    """Make sure the product has a stock row (zero stock); idempotent."""
    with atomic(CONTEXT):
        level, _ = StockLevel.objects.get_or_create(product_id=product_id)
    return level


def ensure_may_adjust_stock(*, product_id: UUID, actor_id: UUID, actor_is_staff: bool) -> None:
    """``ProductNotFound`` unless the catalog knows the product, ``NotProductOwner``
    unless the actor owns it or is staff. Asks the catalog: call it outside a transaction."""
    product = catalog_public.get_product(product_id)
    if product is None:
        raise ProductNotFound()
    if not actor_is_staff and product.owner_id != actor_id:
        raise NotProductOwner()


@retry_on_deadlock
def stock_adjust(
    *,
    product_id: UUID,
    delta: int,
    reason: str = "",
    actor_id: UUID | None = None,
) -> StockLevel:
    """Add ``delta`` (negative to remove) to what is on hand, and log who did it and why.

    ``AdjustmentConflict`` if that would leave less on hand than is reserved
    (or less than zero). Publishes ``StockDepleted`` if nothing is left available.
    """
    with atomic(CONTEXT):
        # Create the row if missing without racing a concurrent creator.
        StockLevel.objects.bulk_create([StockLevel(product_id=product_id)], ignore_conflicts=True)
        level = StockLevel.objects.select_for_update().get(product_id=product_id)
        available_before = level.available
        on_hand = level.on_hand + delta
        if on_hand < level.reserved:
            raise AdjustmentConflict(
                f"On hand would be {on_hand}, but {level.reserved} are reserved "
                f"({level.on_hand} on hand now)."
            )
        if on_hand > MAX_QUANTITY:
            raise InvalidAdjustment(f"On hand may not exceed {MAX_QUANTITY}.")
        level.on_hand = on_hand
        level.save(update_fields=["on_hand", "updated_at"])
        StockAdjustment.objects.create(
            product_id=product_id,
            delta=delta,
            reason=reason,
            actor_id=actor_id,
            on_hand_after=on_hand,
        )
        if available_before > 0 and level.available == 0:
            publish(StockDepleted(product_id=product_id))
    return level


# --- helpers ------------------------------------------------------------------------


def reservation_ttl_seconds() -> int:
    """How long a reservation holds stock before the expiry job releases it."""
    return int(settings.INVENTORY_RESERVATION_TTL_SECONDS)


def _quantities_by_product(lines: Sequence[StockLine]) -> dict[UUID, int]:
    """Quantities by product, in primary-key order (lines of one product add up)."""
    if not lines:
        raise ValueError("a reservation needs at least one line")
    wanted: dict[UUID, int] = {}
    for line in lines:
        quantity = line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValueError(f"quantity must be a positive integer, got {quantity!r}")
        wanted[line.product_id] = wanted.get(line.product_id, 0) + quantity
    return dict(sorted(wanted.items()))


def _lock_levels(product_ids: Iterable[UUID]) -> dict[UUID, StockLevel]:
    """Lock the stock rows in primary-key order (so concurrent lockers cannot deadlock)."""
    levels = (
        StockLevel.objects.select_for_update()
        .filter(product_id__in=list(product_ids))
        .order_by("product_id")
    )
    return {level.product_id: level for level in levels}


def _lock_order(order_id: UUID, status: str) -> tuple[dict[UUID, StockLevel], list[Reservation]]:
    """Lock the stock rows, then the reservation rows, of the order's lines in ``status``."""
    return _lock_orders([order_id], status)


def _lock_orders(
    order_ids: Sequence[UUID], status: str
) -> tuple[dict[UUID, StockLevel], list[Reservation]]:
    """Lock the stock rows, then the reservation rows, of the orders' lines in ``status``."""
    # One statement finds and locks the stock rows (in primary-key order).
    lines = Reservation.objects.filter(order_id__in=list(order_ids), status=status)
    levels = {
        level.product_id: level
        for level in StockLevel.objects.select_for_update()
        .filter(product_id__in=lines.values("product_id"))
        .order_by("product_id")
    }
    # Read again under the locks: a concurrent step may have moved an order on.
    rows = list(
        Reservation.objects.select_for_update()
        .filter(order_id__in=list(order_ids), status=status)
        .order_by("product_id", "order_id")
    )
    missing = {row.product_id for row in rows} - levels.keys()
    if missing:
        raise RuntimeError(f"reservations of orders {order_ids} have no stock rows: {missing}")
    return levels, rows


def _reserved_before(order_id: UUID, existing: Sequence[Reservation]) -> ReservationNotHeld | None:
    """A repeated reserve is a no-op while the order holds or has committed its stock."""
    statuses = {row.status for row in existing}
    if statuses & {Status.RESERVED, Status.COMMITTED}:
        return None
    reason = next((row.release_reason for row in existing if row.release_reason), "")
    return ReservationNotHeld(
        order_id,
        f"The reservation of order {order_id} was already given back"
        + (f" ({reason})." if reason else "."),
    )


def _release(*, order_id: UUID, reason: str, expired_by: datetime | None = None) -> bool:
    """Release what the order holds; with ``expired_by``, only if it expired by then."""
    with atomic(CONTEXT):
        levels, rows = _lock_order(order_id, Status.RESERVED)
        if expired_by is not None:
            rows = [row for row in rows if row.expires_at <= expired_by]
        if not rows:
            return False
        now = timezone.now()
        for row in rows:
            level = levels[row.product_id]
            level.reserved -= row.quantity
            level.updated_at = now
        update_rows([levels[row.product_id] for row in rows], ["reserved", "updated_at"])
        Reservation.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=Status.RELEASED,
            release_reason=reason[: Reservation._meta.get_field("release_reason").max_length],
            updated_at=now,
        )
        publish(StockReleased(order_id=order_id, reason=reason))
    return True


@retry_on_deadlock
def _release_expired(*, order_id: UUID, now: datetime) -> bool:
    return _release(order_id=order_id, reason="expired", expired_by=now)
