"""Tables owned by the catalog context (private to it)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Lower

SKU_MAX_LENGTH = 64
NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000
PRICE_MAX_DIGITS = 12
PRICE_DECIMAL_PLACES = 2


class Product(models.Model):
    """Something the shop sells. ``owner_id`` is a user id of the users context, not a FK."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sku = models.CharField(max_length=SKU_MAX_LENGTH)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(blank=True, default="")
    price = models.DecimalField(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES)
    currency = models.CharField(max_length=3)
    owner_id = models.UUIDField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # "ABC-1" and "abc-1" are the same SKU: one product each.
            models.UniqueConstraint(Lower("sku"), name="catalog_product_sku_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(price__gt=0), name="catalog_product_price_positive"
            ),
        ]
        indexes = [
            # The list endpoint: newest first.
            models.Index(fields=["-created_at", "-id"], name="catalog_product_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"
