"""``manage.py rebuild_read_models [--dry-run] [--batch-size N]``: rebuild the order list."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from contexts.orders.read_models import BATCH_SIZE, rebuild_order_summaries


class Command(BaseCommand):
    help = (
        "Rebuild the customer order list (OrderSummary) from every order's history, one "
        "locked batch of orders per transaction (--dry-run: count the rows that differ)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the rows that differ; change nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"Orders per locked batch (default {BATCH_SIZE}).",
        )

    def handle(self, *args, dry_run: bool = False, batch_size: int = BATCH_SIZE, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        result = rebuild_order_summaries(
            batch_size=batch_size,
            dry_run=dry_run,
            progress=lambda done: self.stdout.write(f"{done} order(s) done"),
        )
        if dry_run:
            message = f"{result.changed} of {result.orders} order summaries differ (dry run)"
        else:
            message = f"rebuilt {result.orders} order summaries ({result.changed} changed)"
        self.stdout.write(self.style.SUCCESS(message))
