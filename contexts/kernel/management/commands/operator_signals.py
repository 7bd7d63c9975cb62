"""``manage.py operator_signals [--json]``: the backlog signals staff watch, per database."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from contexts.kernel.operations import operator_signals


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f}s"


class Command(BaseCommand):
    help = (
        "Print, per database, the outbox lag (unpublished rows, oldest one's age), the "
        "unconfirmed deliveries awaiting re-drive, the open dead letters and the inbox "
        "rows pending retry; then the contexts' signals (sagas needing attention)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print one JSON document."
        )

    def handle(self, *args, as_json: bool = False, **options) -> None:
        signals = operator_signals()
        if as_json:
            self.stdout.write(_dumps(signals.as_dict()))
            return
        for db in signals.databases:
            if db.error:
                self.stderr.write(f"{db.alias}: {db.error}")
                continue
            self.stdout.write(
                f"{db.alias}: outbox unpublished={db.outbox_unpublished} "
                f"oldest={_age(db.oldest_unpublished_age_seconds)} "
                f"unconfirmed awaiting re-drive={db.unconfirmed_awaiting_redrive} "
                f"dead letters open={db.dead_letters_open} "
                f"inbox pending retry={db.inbox_pending_retry}"
            )
        for name, count in signals.contexts.items():
            shown = "unavailable: " + signals.errors[name] if count is None else count
            self.stdout.write(f"{name}: {shown}")


def _dumps(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
