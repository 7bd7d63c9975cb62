"""The inventory's HTTP shapes."""

from __future__ import annotations

from rest_framework import serializers

from contexts.inventory.models import MAX_QUANTITY


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: strings, floats and booleans are rejected."""

    default_error_messages = {"invalid": "A valid integer is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


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
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
