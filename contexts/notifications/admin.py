"""Admin for notifications and their delivery attempts."""

from __future__ import annotations

from django.contrib import admin

from contexts.notifications.models import DeliveryAttempt, Notification


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("channel", "attempted_at", "succeeded", "error")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("kind", "subject", "user_id", "created_at", "email_sent_at", "email_attempts")
    list_filter = ("kind", ("email_sent_at", admin.EmptyFieldListFilter))
    search_fields = ("=user_id", "=order_id", "=source_event_id", "subject")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Notification._meta.fields]
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
