"""Admin for payments: a read-only window on payments, refunds and gateway calls.

Money only moves through the services (and so through the gateway with an
idempotency key); the admin shows what happened and never edits it.
"""

from __future__ import annotations

from django.contrib import admin

from contexts.payments.models import GatewayAttempt, Payment, Refund, SimulatedGatewayOperation


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RefundInline(admin.StackedInline):
    model = Refund
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in Refund._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class GatewayAttemptInline(admin.TabularInline):
    model = GatewayAttempt
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "idempotency_key", "outcome", "error", "duration_ms")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "order_id", "status", "amount", "currency", "attempts", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["=id", "=order_id", "gateway_reference"]
    date_hierarchy = "created_at"
    inlines = [RefundInline, GatewayAttemptInline]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["id", "payment", "status", "amount", "currency", "attempts", "created_at"]
    list_filter = ["status"]
    search_fields = ["=id", "=payment__order_id", "gateway_reference"]
    list_select_related = ["payment"]


@admin.register(GatewayAttempt)
class GatewayAttemptAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "idempotency_key", "outcome", "duration_ms", "error"]
    list_filter = ["kind", "outcome"]
    search_fields = ["idempotency_key", "=payment__order_id"]


@admin.register(SimulatedGatewayOperation)
class SimulatedGatewayOperationAdmin(ReadOnlyAdmin):
    list_display = [
        "idempotency_key",
        "kind",
        "outcome",
        "amount",
        "currency",
        "calls",
        "reference",
    ]
    list_filter = ["kind", "outcome"]
    search_fields = ["idempotency_key", "reference", "charge_reference"]
