"""Tables owned by the inventory context (private to it).

Product ids and order ids belong to the catalog and orders contexts: they are
plain UUIDs here, never foreign keys.
"""

from __future__ import annotations

from django.db import models

#: The largest on-hand quantity a stock level holds (a PostgreSQL integer).
MAX_QUANTITY = 2**31 - 1


class StockLevel(models.Model):
    """How much of a product is on hand and how much of that is held by orders.

    A product without a row has no stock. ``available = on_hand - reserved``.
    """

    product_id = models.UUIDField(primary_key=True)
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reserved__gte=0), name="inventory_stock_reserved_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(on_hand__gte=models.F("reserved")),
                name="inventory_stock_on_hand_covers_reserved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Reservation(models.Model):
    """One order line's hold on stock, from reserve until commit, release or restock.

    Every line of an order moves through the statuses together.
    """

    class Status(models.TextChoices):
        RESERVED = "RESERVED", "Reserved"  # held: counted in StockLevel.reserved
        COMMITTED = "COMMITTED", "Committed"  # shipped: taken off on_hand
        RELEASED = "RELEASED", "Released"  # given back before commit (cancel, failure, expiry)
        RESTOCKED = "RESTOCKED", "Restocked"  # committed, then put back on hand

    order_id = models.UUIDField()
    product_id = models.UUIDField()
    quantity = models.IntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RESERVED)
    expires_at = models.DateTimeField()
    release_reason = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order_id", "product_id"], name="inventory_reservation_order_product_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="inventory_reservation_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["RESERVED", "COMMITTED", "RELEASED", "RESTOCKED"]),
                name="inventory_reservation_status_valid",
            ),
        ]
        indexes = [
            # The expiry sweep: held reservations past their deadline.
            models.Index(
                fields=["expires_at"],
                name="inventory_reservation_held_idx",
                condition=models.Q(status="RESERVED"),
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id}: {self.quantity} x {self.product_id} ({self.status})"


class StockAdjustment(models.Model):
    """The log of manual on-hand changes: who changed what, by how much, and why."""

    product_id = models.UUIDField(db_index=True)
    delta = models.IntegerField()
    reason = models.CharField(max_length=200, blank=True, default="")
    actor_id = models.UUIDField(null=True, blank=True)
    on_hand_after = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.product_id} {self.delta:+d} ({self.reason})"
