"""manage.py replay_dead_letters [--id UUID ...]: deliver dead-lettered events again."""

from __future__ import annotations

from uuid import UUID

from django.core.management.base import BaseCommand, CommandError

from contexts.kernel.delivery import replay_dead_letters


class Command(BaseCommand):
    help = "Deliver dead letters again (all open ones, or those given with --id)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--id", dest="ids", action="append", default=None, metavar="UUID",
            help="a dead letter's id (repeatable); default: every open dead letter",
        )  # fmt: skip

    def handle(self, *args, ids=None, **options):
        try:
            parsed = [UUID(value) for value in ids] if ids else None
        except ValueError as exc:
            raise CommandError(f"not a UUID: {exc}") from exc
        count = replay_dead_letters(ids=parsed)
        self.stdout.write(f"replayed {count} dead letter(s)")
