"""Admin for the orders context: orders (items and history inline), saga states, read model.

Everything here is read-only: orders change only through the services and
the saga, which keep the history, the order row and the read model together.
The one action, "resume", asks the orders service to run a saga stopped in
NEEDS_ATTENTION again (it needs the change permission on saga states).
"""

from __future__ import annotations

from django.contrib import admin, messages

from contexts.orders import services
from contexts.orders.models import (
    IdempotencyRecord,
    Order,
    OrderHistoryEntry,
    OrderItem,
    OrderSummary,
    SagaState,
)


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ("product_id", "sku", "name", "quantity", "unit_price", "line_total")
    readonly_fields = fields


class OrderHistoryEntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderHistoryEntry
    extra = 0
    fields = ("sequence", "type", "occurred_at", "data", "event_id")
    readonly_fields = fields
    ordering = ("sequence",)


class SagaStateInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = SagaState
    extra = 0
    fields = (
        "step",
        "status",
        "attempts",
        "next_attempt_at",
        "deadline",
        "cancel_reason",
        "last_error",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "user_id", "status", "cancel_reason", "total", "currency", "created_at")
    list_filter = ("status", "cancel_reason", "saga__status")
    search_fields = ("=id", "=user_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "user_id",
        "status",
        "cancel_reason",
        "total",
        "currency",
        "idempotency_key",
        "created_at",
        "updated_at",
        "last_sequence",
    )
    exclude = ("payment_token",)
    inlines = (OrderItemInline, SagaStateInline, OrderHistoryEntryInline)


@admin.register(OrderHistoryEntry)
class OrderHistoryEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order_id", "sequence", "type", "occurred_at")
    list_filter = ("type",)
    search_fields = ("=order__id",)
    ordering = ("-occurred_at",)


@admin.register(SagaState)
class SagaStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "order_id",
        "step",
        "status",
        "attempts",
        "next_attempt_at",
        "updated_at",
        "short_error",
    )
    list_filter = ("status", "step")
    search_fields = ("=order__id",)
    ordering = ("-updated_at",)
    actions = ("resume",)

    @admin.display(description="last error")
    def short_error(self, obj: SagaState) -> str:
        return obj.last_error[:120]

    def has_resume_permission(self, request) -> bool:
        return request.user.has_perm("orders.change_sagastate")

    @admin.action(description="Resume the selected sagas needing attention", permissions=["resume"])
    def resume(self, request, queryset) -> None:
        resumed = [s.order_id for s in queryset if services.order_saga_resume(order_id=s.order_id)]
        skipped = queryset.count() - len(resumed)
        if resumed:
            self.message_user(request, f"{len(resumed)} saga(s) resumed.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} saga(s) were not waiting for staff.", messages.WARNING
            )


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order_id", "user_id", "status", "total", "item_count", "last_sequence")
    list_filter = ("status",)
    search_fields = ("=order_id", "=user_id")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user_id", "key", "order_id", "created_at")
    search_fields = ("=user_id", "key")
