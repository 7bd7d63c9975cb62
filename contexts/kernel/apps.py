from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "contexts.kernel"
    label = "kernel"
    verbose_name = "Kernel (outbox, inbox, dead letters)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contexts.kernel import (
            checks,  # noqa: F401  (registers the boundary checks)
            signals,  # noqa: F401  (correlation id through Celery)
        )
        from contexts.kernel.logs import configure_structlog
        from contexts.kernel.relay import register_relay_loops

        configure_structlog()
        register_relay_loops()
