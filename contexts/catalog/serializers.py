"""The catalog's HTTP shapes: input validation and output representation."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from contexts.catalog.models import (
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PRICE_DECIMAL_PLACES,
    PRICE_MAX_DIGITS,
    SKU_MAX_LENGTH,
    Product,
)
from contexts.kernel.fields import StrictCharField


class PriceField(serializers.DecimalField):
    """Money: a decimal with two places, greater than zero; rendered as a string."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value <= Decimal("0"):
            raise serializers.ValidationError("Price must be greater than zero.")
        return value


class ProductSerializer(serializers.ModelSerializer):
    """A product as docs/api.md shows it."""

    price = PriceField(read_only=True)

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "description", "price", "currency", "owner_id", "created_at"]
        read_only_fields = fields


class ProductCreateSerializer(serializers.Serializer):
    """POST /api/products; the owner is the caller, the currency the shop's."""

    sku = StrictCharField(max_length=SKU_MAX_LENGTH)
    name = StrictCharField(max_length=NAME_MAX_LENGTH)
    description = StrictCharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    price = PriceField()


class ProductUpdateSerializer(serializers.Serializer):
    """PATCH /api/products/{id}: any of name, description, price."""

    name = StrictCharField(max_length=NAME_MAX_LENGTH, required=False)
    description = StrictCharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True
    )
    price = PriceField(required=False)
