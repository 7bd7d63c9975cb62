from django.apps import AppConfig


class PlainCheckoutConfig(AppConfig):
    """The order flow written plainly, as one transaction: the benchmark's second yardstick.

    A careful team's checkout without contexts, outbox or saga: a DRF serializer,
    one ``transaction.atomic()`` that prices the items, locks the stock rows in id
    order, inserts the order, its items and a captured payment, then an on-commit
    Celery task for the notification. Installed only with ``BENCH_ENDPOINTS=1``.
    """

    name = "bench.plain"
    label = "bench_plain"
    default_auto_field = "django.db.models.BigAutoField"
