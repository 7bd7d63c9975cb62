"""Admin for the orders context: orders (items and history inline), saga states, read model.

Everything here is read-only: orders change only through the services and
the saga, which keep the history, the order row and the read model together.
The actions call those services:

- on saga states (change permission on saga states): "resume" runs a saga
  stopped in NEEDS_ATTENTION again from its step; "mark resolved" moves it out
  of NEEDS_ATTENTION to DONE once staff finished its work by hand;
- on orders (change permission on orders): "cancel and refund" cancels a
  CONFIRMED order as the API's staff cancel does (the saga refunds and restocks);
- on order summaries (change permission on order summaries): "rebuild"
  rebuilds the customer order list from every order's history.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from contexts.orders import services
from contexts.orders.errors import OrderConflict
from contexts.orders.models import (
    IdempotencyRecord,
    Order,
    OrderHistoryEntry,
    OrderItem,
    OrderSummary,
    SagaState,
)
from contexts.orders.read_models import rebuild_order_summaries


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
    actions = ("cancel_and_refund",)

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("orders.change_order")

    @admin.action(
        description="Cancel the selected confirmed orders (refund and restock)",
        permissions=["cancel"],
    )
    def cancel_and_refund(self, request, queryset) -> None:
        cancelled, refused = 0, []
        for order_id in queryset.values_list("id", flat=True):
            try:
                services.order_cancel(
                    order_id=order_id, actor_id=request.user.pk, actor_is_staff=True
                )
            except OrderConflict as exc:
                refused.append(f"{order_id}: {exc}")
            else:
                cancelled += 1
        if cancelled:
            self.message_user(
                request,
                f"{cancelled} order(s) cancelled; their refund and restock are under way.",
                messages.SUCCESS,
            )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)


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
    actions = ("resume", "mark_resolved")

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

    @admin.action(
        description="Mark the selected sagas needing attention resolved (finished by hand)",
        permissions=["resume"],
    )
    def mark_resolved(self, request, queryset) -> None:
        resolved = [
            order_id
            for order_id in queryset.values_list("order_id", flat=True)
            if services.order_saga_mark_resolved(order_id=order_id, actor_id=request.user.pk)
        ]
        skipped = queryset.count() - len(resolved)
        if resolved:
            self.message_user(
                request, f"{len(resolved)} saga(s) marked resolved.", messages.SUCCESS
            )
        if skipped:
            self.message_user(
                request, f"{skipped} saga(s) were not waiting for staff.", messages.WARNING
            )


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order_id", "user_id", "status", "total", "item_count", "last_sequence")
    list_filter = ("status",)
    search_fields = ("=order_id", "=user_id")
    # A button (not an action): a rebuild needs no selection, and it restores
    # exactly the rows that are missing and so could not be selected.
    change_list_template = "admin/orders/ordersummary/change_list.html"

    def has_rebuild_permission(self, request) -> bool:
        return request.user.has_perm("orders.change_ordersummary")

    def get_urls(self):
        rebuild = path(
            "rebuild/", self.admin_site.admin_view(self.rebuild_view), name="orders_rebuild"
        )
        return [rebuild, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_rebuild": self.has_rebuild_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def rebuild_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_rebuild_permission(request):
            raise PermissionDenied
        result = rebuild_order_summaries()
        self.message_user(
            request,
            f"Rebuilt {result.orders} order summaries ({result.changed} changed).",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:orders_ordersummary_changelist"))


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user_id", "key", "order_id", "created_at")
    search_fields = ("=user_id", "key")
