"""Write use-cases of the orders context: place an order, cancel it.

Cross-context calls (catalog pricing, payments, inventory) always happen
outside ``atomic("orders")``; the saga (the ``saga`` package) owns consistency across
contexts.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID, uuid4

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from contexts.catalog import public as catalog
from contexts.kernel.correlation import get_correlation_id
from contexts.kernel.outbox import insert_and_publish, publish
from contexts.kernel.transactions import atomic
from contexts.orders import conf, history, saga
from contexts.orders.errors import (
    IdempotencyKeyReused,
    IdempotentRequestInProgress,
    InvalidOrder,
    OrderConflict,
)
from contexts.orders.events import (
    PAYMENT_REFUND_PENDING,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
)
from contexts.orders.history import Entry
from contexts.orders.models import (
    CancelReason,
    HistoryType,
    IdempotencyRecord,
    Order,
    OrderHistoryEntry,
    OrderItem,
    OrderStatus,
    OrderSummary,
    SagaState,
    SagaStatus,
    SagaStep,
)
from contexts.orders.selectors import get_order, order_for_actor

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
#: The largest total the payments context accepts (12 digits, 2 places).
MAX_ORDER_TOTAL = Decimal("9999999999.99")


@dataclass(frozen=True)
class LineRequest:
    """One requested line: which product, how many."""

    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class PlacedOrder:
    """The outcome of ``order_place``: the order, and whether this call created it."""

    order: Order
    created: bool


def request_fingerprint(*, lines: Sequence[LineRequest], payment_token: str) -> str:
    """A stable hash of what a placement asks for, to compare idempotent retries."""
    canonical = json.dumps(
        {
            "items": [[str(line.product_id), line.quantity] for line in lines],
            "payment_token": payment_token,
        },
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def order_place(
    *,
    user_id: UUID,
    lines: Sequence[LineRequest],
    payment_token: str,
    idempotency_key: str | None = None,
) -> PlacedOrder:
    """Price the lines through the catalog and store the order as PENDING.

    One transaction writes the order, its items, the ORDER_PLACED history
    entry, the saga record, the read-model row and the ``OrderPlaced`` outbox
    row (one statement on PostgreSQL), and wakes the saga loop (``NOTIFY``,
    delivered on commit).

    With ``idempotency_key``, a repeat of the same request by the same user
    returns the order the first one created (``created`` False), also when
    both arrive at once; the same key with another request raises
    ``IdempotencyKeyReused``.
    """
    fingerprint = request_fingerprint(lines=lines, payment_token=payment_token)
    if idempotency_key is not None:
        earlier = _replay_idempotent(user_id=user_id, key=idempotency_key, fingerprint=fingerprint)
        if earlier is not None:
            return PlacedOrder(order=earlier, created=False)

    # Prices come from the catalog, outside our transaction (as an HTTP call would).
    products = catalog.get_products([line.product_id for line in lines])
    missing = [str(line.product_id) for line in lines if line.product_id not in products]
    if missing:
        raise InvalidOrder("Unknown or deleted product(s): " + ", ".join(missing), field="items")

    currency = settings.SHOP_CURRENCY
    order_id = uuid4()
    now = timezone.now()
    items: list[OrderItem] = []
    for line in lines:
        product = products[line.product_id]
        if product.currency != currency:
            raise InvalidOrder(
                f"Product {product.id} is priced in {product.currency}, not {currency}.",
                field="items",
            )
        unit_price = Decimal(product.price).quantize(CENT)
        items.append(
            OrderItem(
                order_id=order_id,
                product_id=product.id,
                sku=product.sku,
                name=product.name,
                quantity=line.quantity,
                unit_price=unit_price,
                line_total=(unit_price * line.quantity).quantize(CENT),
            )
        )
    total = sum((item.line_total for item in items), Decimal("0.00"))
    if total > MAX_ORDER_TOTAL:
        raise InvalidOrder(f"The order total may not exceed {MAX_ORDER_TOTAL}.", field="items")

    order = Order(
        id=order_id,
        user_id=user_id,
        status=OrderStatus.PENDING,
        total=total,
        currency=currency,
        payment_token=payment_token,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
        last_sequence=1,
    )
    item_snapshot = [item.snapshot() for item in items]
    event = OrderPlaced(
        order_id=order_id,
        user_id=user_id,
        lines=tuple(
            OrderLine(
                product_id=item.product_id,
                sku=item.sku,
                product_name=item.name,
                quantity=item.quantity,
                unit_price=item.unit_price,
            )
            for item in items
        ),
        total=total,
        currency=currency,
    )
    try:
        with atomic("orders"):
            if idempotency_key is not None:
                # First, so a concurrent twin blocks on the unique key right here.
                # (The foreign key to the order is checked at commit.)
                IdempotencyRecord.objects.create(
                    user_id=user_id,
                    key=idempotency_key,
                    request_hash=fingerprint,
                    order_id=order_id,
                )
            # The order, its items, history, saga, read model and outbox row: one statement.
            insert_and_publish(
                [
                    [order],
                    items,
                    [
                        OrderHistoryEntry(
                            order_id=order_id,
                            sequence=1,
                            type=HistoryType.ORDER_PLACED,
                            occurred_at=now,
                            event_id=event.event_id,
                            data={
                                "user_id": str(user_id),
                                "items": item_snapshot,
                                "total": str(total),
                                "currency": currency,
                            },
                        )
                    ],
                    [
                        SagaState(
                            order_id=order_id,
                            step=SagaStep.RESERVE_STOCK,
                            status=SagaStatus.ACTIVE,
                            next_attempt_at=now,
                            deadline=now + conf.step_deadline(),
                            correlation_id=get_correlation_id(),
                        )
                    ],
                    [
                        OrderSummary(
                            order_id=order_id,
                            user_id=user_id,
                            status=OrderStatus.PENDING,
                            cancel_reason=None,
                            total=total,
                            currency=currency,
                            item_count=len(items),
                            items=item_snapshot,
                            created_at=now,
                            updated_at=now,
                            last_sequence=1,
                        )
                    ],
                ],
                [event],
                context="orders",
            )
            saga.wake_on_commit()
    except IntegrityError:
        if idempotency_key is None:
            raise
        earlier = _replay_idempotent(user_id=user_id, key=idempotency_key, fingerprint=fingerprint)
        if earlier is None:
            raise
        return PlacedOrder(order=earlier, created=False)
    order._prefetched_objects_cache = {"items": items}  # type: ignore[attr-defined]  # Django's own prefetch cache
    return PlacedOrder(order=order, created=True)


def _replay_idempotent(*, user_id: UUID, key: str, fingerprint: str) -> Order | None:
    """The order an earlier request with this key created, or None if there was none."""
    record = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
    if record is None:
        return None
    if record.created_at < timezone.now() - conf.idempotency_key_ttl():
        # An expired key is forgotten; the order it created stays.
        IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request."
        )
    if record.order_id is None:
        raise IdempotentRequestInProgress(
            "A request with this Idempotency-Key is still being processed; retry later."
        )
    return get_order(order_id=record.order_id)


def order_cancel(*, order_id: UUID, actor_id: UUID, actor_is_staff: bool) -> Order:
    """Cancel a CONFIRMED order at the customer's (or staff's) request: refund and restock.

    The status changes first, with a conditional update (``WHERE status =
    'CONFIRMED'``), so that of concurrent cancels exactly one succeeds; the
    refund and restock then run as the saga's REFUND_AND_RESTOCK step, at once
    and, should a dependency be down, retried until done. A PENDING order
    (the saga still deciding) or a CANCELLED one raises ``OrderConflict``.
    """
    order = order_for_actor(order_id=order_id, actor_id=actor_id, actor_is_staff=actor_is_staff)
    now = timezone.now()
    event = OrderCancelled(
        order_id=order.id,
        user_id=order.user_id,
        reason=CancelReason.CUSTOMER_CANCELLED,
        payment=PAYMENT_REFUND_PENDING,
    )
    with atomic("orders"):
        appended = history.append(
            order_id=order.id,
            entries=[
                Entry(
                    HistoryType.ORDER_CANCELLED,
                    {"reason": CancelReason.CUSTOMER_CANCELLED, "actor_id": str(actor_id)},
                    event.event_id,
                )
            ],
            now=now,
            expected_status=OrderStatus.CONFIRMED,
            new_status=OrderStatus.CANCELLED,
            cancel_reason=CancelReason.CUSTOMER_CANCELLED,
        )
        if appended is None:
            current = Order.objects.filter(pk=order.id).values_list("status", flat=True).get()
            if current == OrderStatus.PENDING:
                raise OrderConflict(
                    "The order is still being processed; it cannot be cancelled yet."
                )
            raise OrderConflict("The order is already cancelled.")
        saga.start_refund_and_restock(order_id=order.id, now=now)
        publish(event)
    saga.saga_advance_claimed(order_id=order.id)
    cancelled = get_order(order_id=order.id)
    assert cancelled is not None  # the row was read above and orders are never deleted
    return cancelled


def order_saga_resume(*, order_id: UUID) -> bool:
    """Staff: resume an order's saga stopped in NEEDS_ATTENTION (e.g. once the PSP accepts
    a refund it had rejected); returns False when it was not waiting for staff."""
    return saga.saga_resume_needing_attention(order_id=order_id)


def order_saga_mark_resolved(*, order_id: UUID, actor_id: UUID) -> bool:
    """Staff: move a saga out of NEEDS_ATTENTION once they finished its work by hand
    (no step runs); returns False when it was not waiting for staff."""
    return saga.saga_mark_resolved(order_id=order_id, actor_id=actor_id)


def idempotency_keys_purge() -> int:
    """Forget Idempotency-Keys older than their time to live; returns how many."""
    cutoff = timezone.now() - conf.idempotency_key_ttl()
    with atomic("orders"):
        deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
