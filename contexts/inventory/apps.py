from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "contexts.inventory"
    label = "inventory"
    verbose_name = "Inventory"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the inventory's event subscriptions with the bus.
        from contexts.inventory import handlers  # noqa: F401
