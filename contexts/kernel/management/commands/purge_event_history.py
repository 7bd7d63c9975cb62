"""manage.py purge_event_history: the retention job, run by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from contexts.kernel.retention import TABLES, purge_event_history


class Command(BaseCommand):
    help = (
        "Delete completed outbox/inbox rows and replayed dead letters older than"
        " EVENT_RETENTION_DAYS, in committed batches, until none is left."
    )

    def handle(self, *args, **options):
        totals = {table.key: 0 for table in TABLES}
        while True:
            result = purge_event_history()
            for key in totals:
                totals[key] += result[key]
            if result["complete"] or result["failed"]:
                break
        self.stdout.write(", ".join(f"{name}: {n}" for name, n in totals.items()))
        if result["failed"]:
            self.stderr.write("failed databases (see the log): " + ", ".join(result["failed"]))
