from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "contexts.orders"
    label = "orders"
    verbose_name = "Orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the read-model handlers with the bus.
        from contexts.orders import handlers  # noqa: F401
