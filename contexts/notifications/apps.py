from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "contexts.notifications"
    label = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"
    #: Contexts whose public functions notifications calls (remote where not run here).
    calls = ("users",)

    def ready(self) -> None:
        from contexts.notifications import handlers  # noqa: F401  (subscribes to events)
