"""Admin for the catalog: browse and fix texts.

Prices change through the API, whose service publishes the event.
"""

from django.contrib import admin

from contexts.catalog.models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "owner_id", "created_at"]
    search_fields = ["sku", "name", "description"]
    list_filter = ["currency"]
    ordering = ["-created_at"]
    readonly_fields = ["id", "sku", "price", "currency", "owner_id", "created_at", "updated_at"]

    def has_add_permission(self, request):
        # Creating goes through the service, which verifies the owner and publishes the event.
        return False
