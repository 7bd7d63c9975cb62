"""``manage.py replay_dead_letters [--id UUID ...] [--handler H] [--context C] [--since T]
[--batch-size N] [--dry-run]``: deliver dead-lettered events again."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from contexts.kernel.delivery import replay_dead_letters
from contexts.kernel.relay import batch_size as relay_batch_size


def _instant(raw: str) -> datetime:
    moment = parse_datetime(raw)
    if moment is None:
        day = parse_date(raw)
        if day is None:
            raise CommandError(f"--since: {raw!r} is neither a date nor a date-time (ISO 8601)")
        moment = datetime.combine(day, datetime.min.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = (
        "Deliver open dead letters again: every one, or those matching all the filters "
        "given, in committed batches (--dry-run: count them and change nothing)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--id", dest="ids", action="append", default=None, metavar="UUID",
            help="a dead letter's id (repeatable); default: every open dead letter",
        )  # fmt: skip
        parser.add_argument("--handler", help="only this handler's dead letters")
        parser.add_argument("--context", help="only the dead letters of this consuming context")
        parser.add_argument(
            "--since", metavar="DATE_OR_TIME",
            help="only dead letters created at or after this ISO 8601 date or date-time",
        )  # fmt: skip
        parser.add_argument(
            "--batch-size", type=int, default=None,
            help=f"dead letters per committed batch (default {relay_batch_size()})",
        )  # fmt: skip
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(
        self, *args, ids=None, handler=None, context=None, since=None, batch_size=None,
        dry_run=False, **options,
    ):  # fmt: skip
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            parsed = [UUID(value) for value in ids] if ids else None
        except ValueError as exc:
            raise CommandError(f"not a UUID: {exc}") from exc
        count = replay_dead_letters(
            ids=parsed,
            handler=handler,
            context=context,
            since=_instant(since) if since else None,
            batch_size=batch_size,
            dry_run=dry_run,
            progress=lambda done: self.stdout.write(
                f"{done} dead letter(s) {'match' if dry_run else 'replayed so far'}"
            ),
        )
        if dry_run:
            self.stdout.write(f"would replay {count} dead letter(s) (dry run)")
        else:
            self.stdout.write(f"replayed {count} dead letter(s)")
