"""``manage.py copy_context_data <context> --to <DATABASE_URL> [--dry-run] [--replace]
[--delete-source]``: move a context's rows into its own deployment's database, at cutover."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from contexts.kernel.cutover import CutoverError, Report, copy_context, delete_source, parts_of


class Command(BaseCommand):
    help = (
        "Copy one context's rows (its own tables, its open outbox rows, its inbox rows and "
        "dead letters) from this process's database into the database of the context's own "
        "deployment, migrated already with SHOP_CONTEXTS=<context>; then count both sides. "
        "See docs/extracting-a-context.md, 'Moving existing data at cutover'."
    )

    def add_arguments(self, parser):
        parser.add_argument("context", help="the context to move, e.g. payments")
        parser.add_argument(
            "--to", required=True, metavar="DATABASE_URL",
            help="the new deployment's database (postgres://...)",
        )  # fmt: skip
        parser.add_argument(
            "--dry-run", action="store_true", help="count and check only; write nothing"
        )
        parser.add_argument(
            "--replace", action="store_true",
            help="the target already holds rows of the context: delete them, copy again",
        )  # fmt: skip
        parser.add_argument(
            "--delete-source", action="store_true",
            help="after the cutover: delete the context's rows from this database "
            "(refused unless the target holds every one of them)",
        )  # fmt: skip

    def handle(self, *args, context, to, dry_run=False, replace=False, delete_source=False,
               **options):  # fmt: skip
        if delete_source and replace:
            raise CommandError("--delete-source and --replace do not go together")
        try:
            if delete_source:
                self._delete(context, to, dry_run=dry_run)
            else:
                self._report(context, copy_context(context, to, replace=replace, dry_run=dry_run))
        except CutoverError as exc:
            raise CommandError(str(exc)) from exc

    def _report(self, context: str, report: Report) -> None:
        verb = "would copy" if report.dry_run else "copied"
        self.stdout.write(f"{context}: {verb} from {report.source} to {report.target}")
        titles = {part.table: self._title(part.table, part.label) for part in parts_of(context)}
        width = max(map(len, titles.values()))
        for table, title in titles.items():
            line = f"  {title:<{width}}  {report.counts[table].rows:>8}"
            if not report.dry_run:
                copied = report.copied[table]
                same = copied == report.counts[table]
                line += f"  (target: {copied.rows}, {'same values' if same else 'DIFFERENT'})"
            self.stdout.write(line)
        if report.replaced:
            replaced = ", ".join(f"{table}: {n}" for table, n in report.replaced.items())
            self.stdout.write(
                f"{'replacing' if report.dry_run else 'replaced'} on the target: {replaced}"
            )
        total = sum(tally.rows for tally in report.counts.values())
        if report.dry_run:
            self.stdout.write(f"dry run: {total} row(s) would be copied; nothing was written")
        elif report.verified:
            self.stdout.write(
                self.style.SUCCESS(
                    f"verified: {total} row(s), the same counts and values on both sides"
                )
            )
        else:
            raise CommandError("source and target differ (above)")

    def _delete(self, context: str, to: str, *, dry_run: bool) -> None:
        counts = delete_source(context, to, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"{context}: the target holds every copied row; {verb} from the source:")
        width = max(map(len, counts))
        for table, count in counts.items():
            self.stdout.write(f"  {table:<{width}}  {count:>8}")
        if dry_run:
            self.stdout.write("dry run: nothing was deleted")

    @staticmethod
    def _title(table: str, label: str) -> str:
        return f"{table} ({label})" if label else table
