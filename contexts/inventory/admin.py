"""Admin for the inventory: read-only, because stock changes go through the services
(they lock rows, log adjustments and publish events)."""

from django.contrib import admin

from contexts.inventory.models import Reservation, StockAdjustment, StockLevel


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["product_id", "on_hand", "reserved", "available", "updated_at"]
    search_fields = ["product_id"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["order_id", "product_id", "quantity", "status", "expires_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["order_id", "product_id"]
    ordering = ["-created_at"]


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(ReadOnlyAdmin):
    list_display = ["product_id", "delta", "on_hand_after", "reason", "actor_id", "created_at"]
    search_fields = ["product_id", "reason"]
