from django.apps import AppConfig


class BareConfig(AppConfig):
    """A bare DRF endpoint that inserts one row: the benchmark's yardstick.

    Installed only when BENCH_ENDPOINTS=1 (see config/settings.py).
    """

    name = "bench.bare"
    label = "bench_bare"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bench import counters

        counters.install()
