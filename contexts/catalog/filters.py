"""Query-string filters of GET /api/products: parsed here, applied by the selector."""

from __future__ import annotations

import django_filters

from contexts.catalog import selectors
from contexts.catalog.models import PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS, Product
from contexts.kernel.filters import decimal_filter, string_filter


def _price_filter(help_text: str) -> django_filters.Filter:
    # Bounded like a price, so a value PostgreSQL cannot compare is a 400, not a 500.
    return decimal_filter(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, help_text=help_text
    )


class ProductFilter(django_filters.FilterSet):
    """``?search=&owner_id=&min_price=&max_price=&ordering=``; an empty value is no filter."""

    search = string_filter(
        max_length=200, help_text="Part of the name, sku or description (any case)."
    )
    owner_id = django_filters.UUIDFilter(help_text="Only this user's products.")
    min_price = _price_filter("Only products priced at least this (inclusive).")
    max_price = _price_filter("Only products priced at most this (inclusive).")
    ordering = django_filters.ChoiceFilter(
        choices=[(value, value) for value in selectors.PRODUCT_ORDERINGS],
        help_text="Sort order (a leading `-` is descending); newest first by default.",
    )

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_queryset(self, queryset):
        """The products that match, through the catalog's selector."""
        return selectors.product_filter(queryset, **self.form.cleaned_data)
