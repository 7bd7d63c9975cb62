from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "contexts.inventory"
    label = "inventory"
    verbose_name = "Inventory"
    default_auto_field = "django.db.models.BigAutoField"
    #: Contexts whose public functions inventory calls (remote where not run here).
    calls = ("catalog",)

    def ready(self) -> None:
        # Registers the inventory's event subscriptions with the bus.
        from contexts.inventory import handlers  # noqa: F401
