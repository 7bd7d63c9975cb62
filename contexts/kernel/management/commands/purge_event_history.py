"""manage.py purge_event_history: the retention job, run by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from contexts.kernel.retention import purge_event_history


class Command(BaseCommand):
    help = "Delete completed outbox/inbox rows older than EVENT_RETENTION_DAYS."

    def handle(self, *args, **options):
        counts = purge_event_history()
        self.stdout.write(", ".join(f"{name}: {n}" for name, n in counts.items()))
