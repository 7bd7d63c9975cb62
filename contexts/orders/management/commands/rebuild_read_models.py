"""``manage.py rebuild_read_models``: rebuild the orders' read models from history."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from contexts.orders.read_models import rebuild_order_summaries


class Command(BaseCommand):
    help = "Rebuild the customer order list (OrderSummary) from every order's history."

    def handle(self, *args, **options) -> None:
        count = rebuild_order_summaries()
        self.stdout.write(self.style.SUCCESS(f"rebuilt {count} order summaries"))
