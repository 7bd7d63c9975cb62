from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "contexts.inventory"
    label = "inventory"
    verbose_name = "Inventory"
    default_auto_field = "django.db.models.BigAutoField"
