from django.apps import AppConfig


class BareConfig(AppConfig):
    """A bare DRF endpoint that inserts one row: the benchmark's yardstick.

    Installed only when BENCH_BARE_ENDPOINT=1 (see config/settings.py).
    """

    name = "bench.bare"
    label = "bench_bare"
    default_auto_field = "django.db.models.BigAutoField"
