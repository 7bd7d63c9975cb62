"""``manage.py rebuild_orders [--verify] [--dry-run] [--batch-size N]``: history into the rows."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from contexts.orders.read_models import BATCH_SIZE
from contexts.orders.rebuild import Difference, rebuild_orders, verify_orders


def _describe(difference: Difference) -> str:
    if difference.error:
        return f"{difference.order_id}: history cannot be replayed: {difference.error}"
    fields = ", ".join(
        f"{name}: row {row!r} != history {replayed!r}"
        for name, (row, replayed) in difference.fields.items()
    )
    return f"{difference.order_id}: {fields}"


class Command(BaseCommand):
    help = (
        "Replay every order's history into its state. With --verify, only report the "
        "orders whose row differs (exit status 1 if any); without it, repair them "
        "(--dry-run: list what would be repaired). Each batch's orders are locked while "
        "it is compared and written, so a saga moving an order meanwhile waits for it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Report differences without changing anything; exit 1 if there are any.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the orders a rebuild would repair, and change nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"Orders per locked batch (default {BATCH_SIZE}).",
        )

    def _progress(self, done: int) -> None:
        self.stdout.write(f"{done} order(s) checked")

    def handle(
        self,
        *args,
        verify: bool = False,
        dry_run: bool = False,
        batch_size: int = BATCH_SIZE,
        **options,
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if verify:
            differences = list(verify_orders(batch_size=batch_size, progress=self._progress))
            for difference in differences:
                self.stderr.write(_describe(difference))
            if differences:
                raise CommandError(f"{len(differences)} order(s) differ from their history")
            self.stdout.write(self.style.SUCCESS("every order matches its history"))
            return
        result = rebuild_orders(batch_size=batch_size, dry_run=dry_run, progress=self._progress)
        for difference in result.repaired:
            self.stdout.write(("would repair " if dry_run else "repaired ") + _describe(difference))
        for difference in result.unrepaired:
            self.stderr.write(_describe(difference))
        if result.unrepaired:
            raise CommandError(f"{len(result.unrepaired)} order(s) could not be repaired")
        verb = "would be repaired" if dry_run else "repaired"
        self.stdout.write(
            self.style.SUCCESS(
                f"orders rebuilt from history: {result.orders} checked, "
                f"{len(result.repaired)} {verb}"
            )
        )
