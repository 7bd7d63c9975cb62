"""Tables owned by the orders context (private to it).

The order row is a projection of its event history (``OrderHistoryEntry``), written
in the same transaction; ``OrderSummary`` is the read model the customer's
order list is served from; ``SagaState`` is where the placement saga keeps its
progress, so a crash between steps loses nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import Q


class OrderStatus(models.TextChoices):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class CancelReason(models.TextChoices):
    OUT_OF_STOCK = "OUT_OF_STOCK"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PRODUCT_UNAVAILABLE = "PRODUCT_UNAVAILABLE"
    CUSTOMER_CANCELLED = "CUSTOMER_CANCELLED"


class HistoryType(models.TextChoices):
    ORDER_PLACED = "ORDER_PLACED"
    STOCK_RESERVED = "STOCK_RESERVED"
    STOCK_RESERVATION_FAILED = "STOCK_RESERVATION_FAILED"
    PAYMENT_CAPTURED = "PAYMENT_CAPTURED"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PAYMENT_RETRY_SCHEDULED = "PAYMENT_RETRY_SCHEDULED"
    STOCK_RELEASED = "STOCK_RELEASED"
    STOCK_RESTOCKED = "STOCK_RESTOCKED"
    PAYMENT_REFUNDED = "PAYMENT_REFUNDED"
    #: The refund did not go through yet (the order is cancelled, its stock given
    #: back); the saga keeps trying.
    PAYMENT_REFUND_PENDING = "PAYMENT_REFUND_PENDING"
    #: The gateway confirmed that no payment was taken after all: nothing to refund.
    PAYMENT_NOT_TAKEN = "PAYMENT_NOT_TAKEN"
    #: The refund could not be completed within the saga's attempts: staff finish it.
    PAYMENT_REFUND_AWAITS_STAFF = "PAYMENT_REFUND_AWAITS_STAFF"
    #: Processing stopped on an error retrying could not fix: staff resume it.
    ORDER_AWAITS_STAFF = "ORDER_AWAITS_STAFF"
    ORDER_CONFIRMED = "ORDER_CONFIRMED"
    ORDER_CANCELLED = "ORDER_CANCELLED"


MONEY: dict[str, Any] = {"max_digits": 16, "decimal_places": 2}
MAX_LINES = 100
MAX_QUANTITY = 1000


class Order(models.Model):
    """An order; its columns are the replay of its history (see ``history.py``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField()
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    cancel_reason = models.CharField(
        max_length=32, choices=CancelReason.choices, null=True, blank=True
    )
    total = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    # The simulated gateway's token; the payments context keeps what it needs.
    payment_token = models.CharField(max_length=200)
    # The Idempotency-Key the order was placed with, if any (see IdempotencyRecord).
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField()
    # When the status last changed (placed, confirmed, cancelled).
    updated_at = models.DateTimeField()
    # The sequence number of the last history entry: the order's version.
    last_sequence = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user_id", "-created_at"], name="order_user_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=OrderStatus.CANCELLED) & Q(cancel_reason__in=CancelReason.values)
                )
                | (~Q(status=OrderStatus.CANCELLED) & Q(cancel_reason__isnull=True)),
                name="order_cancel_reason_iff_cancelled",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return f"order {self.id} ({self.status})"


class OrderItem(models.Model):
    """One line of an order, priced from the catalog when the order was placed."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product_id = models.UUIDField()
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    line_total = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product_id"], name="order_item_product_once"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=MAX_QUANTITY),
                name="order_item_quantity_range",
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="order_item_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    def snapshot(self) -> dict[str, object]:
        """The line as the history's ``ORDER_PLACED`` entry and ``OrderSummary.items`` store it.

        The one place that shape is built: placement writes it, and
        ``rebuild_orders`` compares the rows with it. Ids and amounts are strings.
        """
        return {
            "product_id": str(self.product_id),
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": str(self.unit_price),
            "line_total": str(self.line_total),
        }


class AppendOnlyQuerySet(models.QuerySet):
    """History is never rewritten: bulk updates and deletes are refused."""

    def update(self, **kwargs):
        raise TypeError("order history is append-only")

    def delete(self):
        raise TypeError("order history is append-only")


class OrderHistoryEntry(models.Model):
    """One entry of an order's history: ordered by ``sequence``, append-only."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="history")
    sequence = models.PositiveIntegerField()
    type = models.CharField(max_length=32, choices=HistoryType.choices)
    occurred_at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)
    # The domain event published together with this entry, if any (read-model handlers
    # find an event's sequence number through it).
    event_id = models.UUIDField(null=True, blank=True, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["order_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "sequence"], name="order_history_sequence_unique"
            ),
            models.CheckConstraint(
                condition=Q(sequence__gte=1), name="order_history_sequence_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} #{self.sequence} {self.type}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("order history is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("order history is append-only")


class SagaStep(models.TextChoices):
    RESERVE_STOCK = "RESERVE_STOCK"
    CHARGE_PAYMENT = "CHARGE_PAYMENT"
    CONFIRM_ORDER = "CONFIRM_ORDER"
    # Compensation before a cancel: release the reservation, refund if captured.
    COMPENSATE = "COMPENSATE"
    # After a customer cancel of a confirmed order: refund and put stock back.
    REFUND_AND_RESTOCK = "REFUND_AND_RESTOCK"
    # The order is cancelled and its stock given back; only the refund is left.
    REFUND_PAYMENT = "REFUND_PAYMENT"
    DONE = "DONE"


class SagaStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    DONE = "DONE"
    #: Stopped after its attempts on a failure retrying could not fix (e.g. a
    #: refund the gateway rejects): nothing runs it until staff resume it.
    NEEDS_ATTENTION = "NEEDS_ATTENTION"


class SagaState(models.Model):
    """Where an order's saga stands, persisted at every step.

    ``next_attempt_at`` is when the current step is due: a retry's time, or,
    while a worker runs the step, the end of its lease (a worker that dies
    leaves it to the sweep once the lease ends). ``deadline`` is when a step
    before the pivot (payment) gives up and compensates.
    """

    order = models.OneToOneField(
        Order, on_delete=models.CASCADE, primary_key=True, related_name="saga"
    )
    step = models.CharField(max_length=24, choices=SagaStep.choices)
    status = models.CharField(max_length=16, choices=SagaStatus.choices, default=SagaStatus.ACTIVE)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True)
    # What the COMPENSATE step must do, and the reason the order is cancelled with.
    cancel_reason = models.CharField(
        max_length=32, choices=CancelReason.choices, null=True, blank=True
    )
    release_stock = models.BooleanField(default=False)
    refund_payment = models.BooleanField(default=False)
    correlation_id = models.CharField(max_length=128, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The sweep's query: active sagas whose step is due.
            models.Index(
                fields=["next_attempt_at"],
                name="saga_due_idx",
                condition=Q(status="ACTIVE"),
            ),
            # Staff's list of sagas waiting for them.
            models.Index(
                fields=["updated_at"],
                name="saga_needs_attention_idx",
                condition=Q(status="NEEDS_ATTENTION"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SagaStatus.values), name="saga_status_valid"
            ),
            models.CheckConstraint(
                condition=(Q(status="DONE") & Q(step="DONE"))
                | (Q(status__in=["ACTIVE", "NEEDS_ATTENTION"]) & ~Q(step="DONE")),
                name="saga_done_iff_step_done",
            ),
        ]

    def __str__(self) -> str:
        return f"saga {self.order_id}: {self.step} ({self.status})"


class IdempotencyRecord(models.Model):
    """An ``Idempotency-Key`` a user sent, the request it came with, and its order."""

    user_id = models.UUIDField()
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    order = models.OneToOneField(
        Order, on_delete=models.CASCADE, null=True, blank=True, related_name="idempotency"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "key"], name="idempotency_user_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class OrderSummary(models.Model):
    """Read model of the customer's order list: one row per order, no joins needed."""

    order_id = models.UUIDField(primary_key=True)
    user_id = models.UUIDField()
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    cancel_reason = models.CharField(max_length=32, null=True, blank=True)
    total = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    item_count = models.PositiveIntegerField()
    # One OrderItem.snapshot() per line.
    items = models.JSONField(default=list)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Sequence of the history entry this row reflects; older events are ignored.
    last_sequence = models.PositiveIntegerField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["user_id", "-created_at", "-order_id"], name="summary_user_list_idx"
            )
        ]

    def __str__(self) -> str:
        return f"summary {self.order_id} ({self.status})"
