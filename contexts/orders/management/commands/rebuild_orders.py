"""``manage.py rebuild_orders [--verify]``: replay history into the order rows."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

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
        "orders whose row differs (exit status 1 if any); without it, repair them."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Report differences without changing anything; exit 1 if there are any.",
        )

    def handle(self, *args, verify: bool = False, **options) -> None:
        differences = list(verify_orders()) if verify else rebuild_orders()
        for difference in differences:
            self.stderr.write(_describe(difference))
        if differences:
            what = "differ from their history" if verify else "could not be repaired"
            raise CommandError(f"{len(differences)} order(s) {what}")
        self.stdout.write(
            self.style.SUCCESS(
                "every order matches its history" if verify else "orders rebuilt from history"
            )
        )
