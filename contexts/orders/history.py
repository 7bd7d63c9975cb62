"""An order's event history: appending to it, and replaying it into state.

Every change of an order appends one or more entries (numbered by a per-order
sequence) in the same transaction as the order row, and the order row is what
``replay`` makes of those entries. ``manage.py rebuild_orders --verify`` and the
read model (``read_models.py``) both rely on ``replay``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connections

from contexts.kernel.bulk import update_rows
from contexts.kernel.databases import database_for
from contexts.kernel.events import DomainEvent
from contexts.kernel.outbox import insert_and_publish
from contexts.orders.models import (
    CancelReason,
    HistoryType,
    Order,
    OrderHistoryEntry,
    OrderStatus,
    OrderSummary,
)

#: Entries that change what a customer sees in the order list (status, reason).
STATUS_TYPES = frozenset(
    {HistoryType.ORDER_PLACED, HistoryType.ORDER_CONFIRMED, HistoryType.ORDER_CANCELLED}
)


@dataclass(frozen=True)
class Entry:
    """A history entry to append: its type, its data and the event published with it."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    event_id: UUID | None = None


@dataclass
class OrderState:
    """An order as its history says it is."""

    order_id: UUID
    user_id: UUID
    status: str
    cancel_reason: str | None
    total: Decimal
    currency: str
    items: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    last_sequence: int
    #: The sequence of the last entry that changed the status (what the list shows).
    status_sequence: int


class HistoryError(ValueError):
    """A history that no order could have (e.g. it does not start with ORDER_PLACED)."""


def append(
    *,
    order_id: UUID,
    entries: Sequence[Entry],
    now: datetime,
    expected_status: str | None = None,
    new_status: str | None = None,
    cancel_reason: str | None = None,
) -> list[OrderHistoryEntry] | None:
    """Append ``entries`` and update the order row with them; call inside ``atomic("orders")``.

    With ``expected_status`` the update is conditional (``WHERE status = ...``):
    when the order is no longer in that status nothing is written and None is
    returned. With ``new_status`` the order's status, reason and ``updated_at``
    change too, and the read-model row follows in the same transaction.
    """
    last = _bump_sequence(
        order_id=order_id,
        count=len(entries),
        now=now,
        expected_status=expected_status,
        new_status=new_status,
        cancel_reason=cancel_reason,
    )
    if last is None:
        return None
    first = last - len(entries) + 1
    events = [
        OrderHistoryEntry(
            order_id=order_id,
            sequence=first + i,
            type=entry.type,
            occurred_at=now,
            data=entry.data,
            event_id=entry.event_id,
        )
        for i, entry in enumerate(entries)
    ]
    OrderHistoryEntry.objects.bulk_create(events)
    if new_status is not None:
        status_sequence = max(e.sequence for e in events if e.type in STATUS_TYPES)
        OrderSummary.objects.filter(order_id=order_id, last_sequence__lt=status_sequence).update(
            status=new_status,
            cancel_reason=cancel_reason,
            updated_at=now,
            last_sequence=status_sequence,
        )
    return events


@dataclass(frozen=True)
class Append:
    """Entries to append to one order's history, as ``append`` takes them (for ``append_many``)."""

    order_id: UUID
    entries: Sequence[Entry]
    expected_status: str | None = None
    new_status: str | None = None
    cancel_reason: str | None = None


def append_many(
    appends: Sequence[Append],
    *,
    now: datetime,
    locked: dict[UUID, Order] | None = None,
    events: Mapping[UUID, DomainEvent] | None = None,
) -> set[UUID]:
    """``append`` for many orders at once; call inside ``atomic("orders")``.

    Locks the order rows (one ``SELECT ... FOR UPDATE``, in primary-key order;
    or takes ``locked``, the rows the caller locked), skips every order no
    longer in its ``expected_status``, then writes all the order rows (one
    bulk update), all the entries with the ``events`` of the orders appended
    to (one insert: ``events`` maps an order id to the event its entries
    publish) and the read-model rows of the orders whose status changed (one
    conditional update for one order; a locking read and a bulk update for
    more). Returns the ids of the orders it appended to.
    """
    if not appends:
        return set()
    orders = locked
    if orders is None:
        orders = {
            order.pk: order
            for order in Order.objects.select_for_update()
            .filter(pk__in=[a.order_id for a in appends])
            .order_by("pk")
            .only("id", "status", "cancel_reason", "updated_at", "last_sequence")
        }
    rows: list[OrderHistoryEntry] = []
    changed: list[Order] = []
    statuses: dict[UUID, tuple[int, str, str | None]] = {}
    for item in appends:
        order = orders.get(item.order_id)
        if order is None or (
            item.expected_status is not None and order.status != item.expected_status
        ):
            continue
        first = order.last_sequence + 1
        order.last_sequence += len(item.entries)
        added = [
            OrderHistoryEntry(
                order_id=item.order_id,
                sequence=first + i,
                type=entry.type,
                occurred_at=now,
                data=entry.data,
                event_id=entry.event_id,
            )
            for i, entry in enumerate(item.entries)
        ]
        rows += added
        if item.new_status is not None:
            order.status = item.new_status
            order.cancel_reason = item.cancel_reason
            order.updated_at = now
            status_sequence = max(e.sequence for e in added if e.type in STATUS_TYPES)
            statuses[item.order_id] = (status_sequence, item.new_status, item.cancel_reason)
        changed.append(order)
    if changed:
        update_rows(changed, ["last_sequence", "status", "cancel_reason", "updated_at"])
        published = [events[o.pk] for o in changed if events and o.pk in events]
        insert_and_publish([rows], published, context="orders")
    if len(statuses) == 1:
        # The read model follows, unless a rebuild already wrote a newer state.
        ((order_id, (status_sequence, status, cancel_reason)),) = statuses.items()
        OrderSummary.objects.filter(order_id=order_id, last_sequence__lt=status_sequence).update(
            status=status,
            cancel_reason=cancel_reason,
            updated_at=now,
            last_sequence=status_sequence,
        )
    elif statuses:
        summaries = []
        for summary in (
            OrderSummary.objects.select_for_update()
            .filter(order_id__in=list(statuses))
            .order_by("order_id")
        ):
            status_sequence, status, cancel_reason = statuses[summary.order_id]
            if summary.last_sequence < status_sequence:
                summary.status, summary.cancel_reason = status, cancel_reason
                summary.updated_at, summary.last_sequence = now, status_sequence
                summaries.append(summary)
        update_rows(summaries, ["status", "cancel_reason", "updated_at", "last_sequence"])
    return {order.pk for order in changed}


def _bump_sequence(
    *,
    order_id: UUID,
    count: int,
    now: datetime,
    expected_status: str | None,
    new_status: str | None,
    cancel_reason: str | None,
) -> int | None:
    """Reserve ``count`` sequence numbers on the order row (and change its status):
    one ``UPDATE ... RETURNING last_sequence`` round trip; None if no row matched."""
    connection = connections[database_for("orders")]
    meta = Order._meta
    qn = connection.ops.quote_name
    # The stubs type get_field() as Field | ForeignObjectRel and Field.column as Optional;
    # these are concrete fields of Order, each with a column.
    column = qn(meta.get_field("last_sequence").column)  # type: ignore[arg-type]
    sets = [f"{column} = {column} + %s"]
    params: list[Any] = [count]
    if new_status is not None:
        for name, value in (
            ("status", new_status),
            ("cancel_reason", cancel_reason),
            ("updated_at", now),
        ):
            field_ = meta.get_field(name)
            sets.append(f"{qn(field_.column)} = %s")  # type: ignore[union-attr,arg-type]
            params.append(field_.get_db_prep_save(value, connection))  # type: ignore[union-attr]
    where = [f"{qn(meta.pk.column)} = %s"]  # type: ignore[arg-type]
    params.append(meta.pk.get_db_prep_value(order_id, connection))
    if expected_status is not None:
        where.append(f"{qn(meta.get_field('status').column)} = %s")  # type: ignore[arg-type]
        params.append(expected_status)
    sql = (
        f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)}"
        f" WHERE {' AND '.join(where)} RETURNING {column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def replay(events: Iterable[OrderHistoryEntry]) -> OrderState:
    """Fold an order's history (oldest first) into its state."""
    state: OrderState | None = None
    expected = 1
    for event in events:
        if event.sequence != expected:
            raise HistoryError(f"sequence {event.sequence} where {expected} was expected")
        expected += 1
        if state is None:
            if event.type != HistoryType.ORDER_PLACED:
                raise HistoryError(f"history starts with {event.type}, not ORDER_PLACED")
            data = event.data
            state = OrderState(
                order_id=event.order_id,
                user_id=UUID(data["user_id"]),
                status=OrderStatus.PENDING,
                cancel_reason=None,
                total=Decimal(data["total"]),
                currency=data["currency"],
                items=list(data["items"]),
                created_at=event.occurred_at,
                updated_at=event.occurred_at,
                last_sequence=event.sequence,
                status_sequence=event.sequence,
            )
            continue
        state.last_sequence = event.sequence
        if event.type == HistoryType.ORDER_CONFIRMED:
            _require(state, event, OrderStatus.PENDING)
            state.status = OrderStatus.CONFIRMED
        elif event.type == HistoryType.ORDER_CANCELLED:
            _require(state, event, OrderStatus.PENDING, OrderStatus.CONFIRMED)
            reason = event.data.get("reason")
            if reason not in CancelReason.values:
                raise HistoryError(f"ORDER_CANCELLED #{event.sequence} has reason {reason!r}")
            state.status = OrderStatus.CANCELLED
            state.cancel_reason = reason
        elif event.type == HistoryType.ORDER_PLACED:
            raise HistoryError(f"ORDER_PLACED again at #{event.sequence}")
        else:
            continue
        state.updated_at = event.occurred_at
        state.status_sequence = event.sequence
    if state is None:
        raise HistoryError("empty history")
    return state


def _require(state: OrderState, event: OrderHistoryEntry, *allowed: str) -> None:
    if state.status not in allowed:
        raise HistoryError(f"{event.type} #{event.sequence} while the order is {state.status}")


def summary_fields(state: OrderState) -> dict[str, Any]:
    """The read-model row of an order in ``state``."""
    return {
        "user_id": state.user_id,
        "status": state.status,
        "cancel_reason": state.cancel_reason,
        "total": state.total,
        "currency": state.currency,
        "item_count": len(state.items),
        "items": state.items,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "last_sequence": state.status_sequence,
    }


# --- What the API shows of an entry ------------------------------------------------
#
# History entries keep the raw detail of what happened (gateway and inventory
# error text, who cancelled), which staff read in the admin. The API, to
# customers and staff alike, shows each entry's type with a whitelist of its
# fields and reasons in plain words: never an exception name, a raw error
# string or a staff user id. A new entry type shows no data until it is added
# here.

_STOCK_REASONS = {
    "out of stock": "Not enough stock.",
    "product unavailable": "A product is no longer available.",
    "no answer from inventory in time": "The stock service did not respond in time.",
    "reservation released before it was recorded": "The stock reservation expired.",
    "reservation expired before it was committed": "The stock reservation expired.",
}
_STOCK_REFUSED = "The stock could not be reserved."

#: Per entry type: the stored fields shown as they are, and the plain reason shown.
_PUBLIC: dict[str, tuple[tuple[str, ...], str | None]] = {
    HistoryType.ORDER_PLACED: (("user_id", "total", "currency", "items"), None),
    HistoryType.STOCK_RESERVED: (("lines",), None),
    HistoryType.STOCK_RESERVATION_FAILED: (("product_ids", "attempts"), None),
    HistoryType.PAYMENT_CAPTURED: (("payment_id", "amount", "currency"), None),
    HistoryType.PAYMENT_DECLINED: ((), "The payment was declined."),
    HistoryType.PAYMENT_RETRY_SCHEDULED: (
        ("attempt",),
        "The payment service did not respond; trying again.",
    ),
    HistoryType.PAYMENT_FAILED: (("attempts",), "The payment could not be completed."),
    HistoryType.PAYMENT_REFUNDED: (("payment_id", "amount", "currency"), None),
    HistoryType.PAYMENT_REFUND_PENDING: ((), "The refund is on its way."),
    HistoryType.PAYMENT_NOT_TAKEN: ((), "No payment was taken."),
    HistoryType.PAYMENT_REFUND_AWAITS_STAFF: (
        (),
        "The refund could not be completed automatically; our staff will complete it.",
    ),
    HistoryType.ORDER_AWAITS_STAFF: (
        (),
        "Processing stopped on an error; our staff will resume it.",
    ),
    HistoryType.STOCK_RELEASED: ((), None),
    HistoryType.STOCK_RESTOCKED: ((), None),
    HistoryType.ORDER_CONFIRMED: ((), None),
    HistoryType.ORDER_CANCELLED: ((), None),
}


def public_data(entry: OrderHistoryEntry, *, owner_id: UUID) -> dict[str, Any]:
    """The data of ``entry`` as the API shows it: whitelisted fields, plain-words reasons.

    ``owner_id`` (the order's customer) tells a cancel by the customer from one
    by staff without showing who the staff member was.
    """
    fields, reason = _PUBLIC.get(entry.type, ((), None))
    stored = entry.data or {}
    data = {name: stored[name] for name in fields if name in stored}
    if entry.type == HistoryType.STOCK_RESERVATION_FAILED:
        reason = _STOCK_REASONS.get(str(stored.get("reason", "")), _STOCK_REFUSED)
    elif entry.type == HistoryType.ORDER_CANCELLED:
        if stored.get("reason") in CancelReason.values:
            data["reason"] = stored["reason"]
        if "actor_id" in stored:
            data["cancelled_by"] = "customer" if stored["actor_id"] == str(owner_id) else "staff"
    if reason is not None:
        data["reason"] = reason
    return data
