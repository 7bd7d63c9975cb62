"""The orders API's request validation and response shapes (docs/api.md, Orders)."""

from __future__ import annotations

from rest_framework import serializers

from contexts.kernel.fields import StrictCharField, StrictIntegerField, StrictUUIDField
from contexts.orders.models import MAX_LINES, MAX_QUANTITY, MONEY

PAYMENT_TOKEN_MAX_LENGTH = 200


class OrderLineSerializer(serializers.Serializer):
    product_id = StrictUUIDField()
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderPlaceSerializer(serializers.Serializer):
    """What a client may send; prices, totals, status or owner are not fields, so ignored."""

    items = OrderLineSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]  # the stubs lack many=True's max_length (DRF 3.15+)
    payment_token = StrictCharField(
        allow_blank=False, trim_whitespace=False, max_length=PAYMENT_TOKEN_MAX_LENGTH
    )

    def validate_items(self, items):
        product_ids = [item["product_id"] for item in items]
        if len(set(product_ids)) != len(product_ids):
            raise serializers.ValidationError("A product may appear only once per order.")
        return items

    def validate_payment_token(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class OrderItemSerializer(serializers.Serializer):
    product_id = serializers.UUIDField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(**MONEY)
    line_total = serializers.DecimalField(**MONEY)


class OrderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.UUIDField()
    status = serializers.CharField(help_text="PENDING, CONFIRMED or CANCELLED.")
    cancel_reason = serializers.CharField(
        allow_null=True,
        help_text="Null unless CANCELLED: OUT_OF_STOCK, PAYMENT_DECLINED, PAYMENT_FAILED, "
        "PRODUCT_UNAVAILABLE or CUSTOMER_CANCELLED.",
    )
    items = OrderItemSerializer(many=True)
    total = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class OrderListEntrySerializer(OrderSerializer):
    """An order as the list shows it, read from the read model (same shape as an order)."""

    id = serializers.UUIDField(source="order_id")


class OrderHistoryEntrySerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    type = serializers.CharField(help_text="e.g. ORDER_PLACED, STOCK_RESERVED, ORDER_CONFIRMED.")
    occurred_at = serializers.DateTimeField()
    data = serializers.JSONField(  # type: ignore[assignment]  # a declared field, not Serializer.data
        help_text="What the entry records, with reasons in plain words (e.g. "
        '{"reason": "The payment was declined."}); never raw gateway or inventory errors '
        "or staff ids, which only the admin shows."
    )


class OrderHistorySerializer(serializers.Serializer):
    results = OrderHistoryEntrySerializer(many=True)
