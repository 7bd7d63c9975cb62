"""``manage.py purge_event_history [--batch-size N] [--dry-run]``: the retention job, by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from contexts.kernel.retention import TABLES, purge_event_history


def _summary(counts: dict) -> str:
    return ", ".join(f"{table.key}: {counts[table.key]}" for table in TABLES)


class Command(BaseCommand):
    help = (
        "Delete completed outbox/inbox rows and replayed dead letters older than"
        " EVENT_RETENTION_DAYS, in committed batches, until none is left"
        " (--dry-run: count them and delete nothing)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=None,
            help="rows per committed batch (default EVENT_RETENTION_BATCH_SIZE)",
        )  # fmt: skip
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args, batch_size=None, dry_run=False, **options):
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if dry_run:
            result = purge_event_history(dry_run=True)
            self.stdout.write("would delete " + _summary(result) + " (dry run)")
            self._report_failed(result)
            return
        totals = {table.key: 0 for table in TABLES}

        def progress(counts: dict) -> None:
            self.stdout.write("deleted so far: " + _summary(
                {key: totals[key] + counts[key] for key in totals}
            ))  # fmt: skip

        while True:
            result = purge_event_history(batch_size=batch_size, progress=progress)
            for key in totals:
                totals[key] += result[key]
            if result["complete"] or result["failed"]:
                break
        self.stdout.write(_summary(totals))
        self._report_failed(result)

    def _report_failed(self, result: dict) -> None:
        if result["failed"]:
            self.stderr.write("failed databases (see the log): " + ", ".join(result["failed"]))
