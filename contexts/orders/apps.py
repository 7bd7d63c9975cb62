from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "contexts.orders"
    label = "orders"
    verbose_name = "Orders"
    default_auto_field = "django.db.models.BigAutoField"
    #: Contexts whose public functions orders calls (remote where not run here).
    calls = ("catalog", "inventory", "payments")

    def ready(self) -> None:
        from contexts.kernel.operations import register_signal
        from contexts.orders import handlers  # noqa: F401  (registers the read-model handlers)
        from contexts.orders.selectors import sagas_needing_attention_count

        # Staff watch this count with the kernel's (outbox lag, dead letters); the
        # kernel imports no context, so the context hands it its signal.
        register_signal("sagas_needing_attention", sagas_needing_attention_count)
