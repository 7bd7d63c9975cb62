"""Query-string filters of GET /api/notifications: parsed here, applied by the selector."""

from __future__ import annotations

import django_filters

from contexts.notifications import selectors
from contexts.notifications.models import Notification


class NotificationFilter(django_filters.FilterSet):
    """``?kind=``; an empty value is no filter."""

    kind = django_filters.ChoiceFilter(
        choices=Notification.Kind.choices, help_text="Only notifications of this kind."
    )

    class Meta:
        model = Notification
        fields: list[str] = []

    def filter_queryset(self, queryset):
        """The caller's notifications that match, through the context's selector."""
        return selectors.notifications_filter(queryset, **self.form.cleaned_data)
