"""Query-string filters of GET /api/orders: parsed here, applied by the selector."""

from __future__ import annotations

import django_filters

from contexts.kernel.filters import date_or_datetime_filter
from contexts.orders import selectors
from contexts.orders.models import OrderStatus, OrderSummary


class OrderFilter(django_filters.FilterSet):
    """``?status=&created_after=&created_before=``; an empty value is no filter."""

    status = django_filters.ChoiceFilter(
        choices=OrderStatus.choices, help_text="Only orders in this status."
    )
    created_after = date_or_datetime_filter(
        help_text="Only orders placed at or after this ISO-8601 date or date-time "
        "(a date alone is 00:00 UTC; no offset is UTC)."
    )
    created_before = date_or_datetime_filter(
        help_text="Only orders placed at or before this ISO-8601 date or date-time "
        "(a date alone is 00:00 UTC; no offset is UTC)."
    )

    class Meta:
        model = OrderSummary
        fields: list[str] = []

    def filter_queryset(self, queryset):
        """The caller's orders that match, through the orders' selector."""
        return selectors.order_summaries_filter(queryset, **self.form.cleaned_data)
