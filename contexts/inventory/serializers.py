"""The inventory's HTTP shapes."""

from __future__ import annotations

from rest_framework import serializers

from contexts.inventory.models import MAX_QUANTITY
from contexts.kernel.fields import StrictCharField, StrictIntegerField


class StockLevelSerializer(serializers.Serializer):
    """A product's stock: ``available = on_hand - reserved``."""

    product_id = serializers.UUIDField(read_only=True)
    on_hand = serializers.IntegerField(read_only=True)
    reserved = serializers.IntegerField(read_only=True)
    available = serializers.IntegerField(read_only=True)


class StockAdjustmentSerializer(serializers.Serializer):
    """POST /api/inventory/{product_id}/adjust."""

    delta = StrictIntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        help_text="units to add to on hand (negative to remove)",
    )
    reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
