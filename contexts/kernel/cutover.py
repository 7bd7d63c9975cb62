"""Moving a context's rows into the database of its own deployment, at cutover.

``copy_context`` copies, from the database this process reaches the context
through (``database_for``) into the new deployment's database (already
migrated with ``SHOP_CONTEXTS=<context>``):

- the context's own tables (the models of its app), parents before children,
  every column as it is (primary keys, timestamps), then each identity
  sequence moved past the copied keys;
- the kernel's rows that belong to it: its outbox rows still open (not yet
  published, or published with deliveries unconfirmed; ``context`` is the
  publisher), its inbox rows (``context`` is the consumer; processed ones too,
  so an event delivered again after the move still has no second effect) and
  its dead letters.

It reads one snapshot of the source (``REPEATABLE READ``) and writes in one
transaction on the target, so a copy that fails leaves the target as it was
and can be run again. A target that already holds rows of the context is
refused (``replace=True`` deletes them first, in the same transaction). After
the commit both sides are tallied, per table, by row count and a fingerprint
of the rows' values (the sum of a hash of each row's text in UTC): the target
must hold what the snapshot held, and the source must not have changed
meanwhile.

``delete_source`` removes the context's rows from the source, once the target
holds every one of them (checked by primary key). PostgreSQL only, on both
sides. ``manage.py copy_context_data`` is the command; docs/extracting-a-context.md
the procedure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
from django.apps import apps
from django.core.management.color import no_style
from django.db import connections, models
from psycopg import sql
from psycopg.conninfo import make_conninfo

from contexts.kernel.databases import CONTEXTS, database_for
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage

#: Primary keys compared per round trip when checking the target before a delete.
CHECK_BATCH = 5000
#: Connection options of the source's Django settings (``OPTIONS``) that libpq takes too.
LIBPQ_OPTIONS = frozenset({"sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout"})
#: Both sides write timestamps as text in UTC, so the rows' fingerprints compare.
UTC = "-c TimeZone=UTC"


class CutoverError(Exception):
    """The copy or the delete was refused (nothing written), or its final check failed."""


@dataclass(frozen=True)
class Part:
    """One table's share of a context's rows."""

    table: str
    label: str
    columns: tuple[str, ...]
    pk: str
    #: The rows copied (an SQL condition, with ``params``).
    copied: str = "TRUE"
    #: The rows that belong to the context (refused on the target, deleted from the source).
    owned: str = "TRUE"
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tally:
    """A table's rows of the context: how many, and a fingerprint of their values."""

    rows: int
    fingerprint: int


@dataclass(frozen=True)
class Report:
    source: str
    target: str
    #: Per table: in the source's snapshot, and on the target after the copy.
    counts: dict[str, Tally]
    copied: dict[str, Tally]
    dry_run: bool
    #: Rows of the context the target held before (deleted with ``replace``).
    replaced: dict[str, int]

    @property
    def verified(self) -> bool:
        return not self.dry_run and self.copied == self.counts


def own_models(context: str) -> list[type[models.Model]]:
    """The context's models, each after the models its foreign keys point to."""
    if context not in CONTEXTS:
        raise CutoverError(f"unknown context {context!r} (known: {', '.join(CONTEXTS)}).")
    try:
        config = apps.get_app_config(context)
    except LookupError:
        raise CutoverError(
            f"{context} is not installed in this process: run it with SHOP_CONTEXTS "
            f"including {context} (e.g. SHOP_CONTEXTS={context})."
        ) from None
    found = [m for m in config.get_models(include_auto_created=True) if m._meta.managed]
    parents: dict[type[models.Model], set[type[models.Model]]] = {}
    for model in found:
        parents[model] = set()
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            if target is None or target is model:
                continue
            if target not in found:
                raise CutoverError(
                    f"{model._meta.db_table}.{field.column} refers to "
                    f"{target._meta.db_table}, outside {context}: its rows cannot move alone."
                )
            parents[model].add(target)
    ordered: list[type[models.Model]] = []
    while parents:
        ready = [m for m, needs in parents.items() if needs <= set(ordered)]
        if not ready:
            # Models referring to each other: no order fits, but Django's foreign keys
            # are DEFERRABLE INITIALLY DEFERRED, checked when the one transaction commits.
            ordered += parents
            break
        ordered += ready
        for model in ready:
            del parents[model]
    return ordered


def parts_of(context: str) -> list[Part]:
    """What belongs to ``context``: its own tables, then its kernel rows."""

    def part(model: type[models.Model], label: str, **conditions: str) -> Part:
        meta = model._meta
        columns = tuple(field.column for field in meta.concrete_fields if field.column)
        pk = meta.pk.column if meta.pk else None
        if not pk:
            raise CutoverError(f"{meta.db_table} has no primary key column to check copies by.")
        params = (context,) if conditions else ()
        return Part(meta.db_table, label, columns, pk, params=params, **conditions)

    mine = "context = %s"
    return [
        *(part(model, "") for model in own_models(context)),
        part(
            OutboxMessage,
            f"open, published by {context}",
            copied=f"{mine} AND (published_at IS NULL OR unconfirmed <> '{{}}'::jsonb)",
            owned=mine,
        ),
        part(InboxMessage, f"consumed by {context}", copied=mine, owned=mine),
        part(DeadLetter, f"handlers in {context}", copied=mine, owned=mine),
    ]


def copy_context(
    context: str, target_url: str, *, replace: bool = False, dry_run: bool = False
) -> Report:
    """Copy ``context``'s rows into the database at ``target_url`` (see the module doc)."""
    parts = parts_of(context)
    with _source(context) as source, _target(target_url) as target:
        names = _name(source), _name(target)
        _refuse_same_database(source, target)
        _require_tables(target, parts, context)
        counts = {part.table: _tally(source, part) for part in parts}
        present = {part.table: n for part in parts if (n := _count(target, part, part.owned))}
        if present and not replace:
            raise CutoverError(
                f"the target already holds rows of {context} ({_listing(present)}); "
                "--replace deletes them and copies again."
            )
        if dry_run:
            return Report(*names, counts, {}, dry_run=True, replaced=present)
        with target.transaction():
            for part in reversed(parts if replace else []):
                _delete(target, part)
            for part in parts:
                _copy(source, target, part)
            for statement in _sequence_resets(context):
                target.execute(statement)
        copied = {part.table: _tally(target, part) for part in parts}
        source.commit()  # end the snapshot: tally what the source holds now
        changed = [part.table for part in parts if _tally(source, part) != counts[part.table]]
    if changed:
        raise CutoverError(
            f"{context}'s rows changed in the source during the copy ({', '.join(changed)}): "
            f"something still writes them. Stop it, then copy again with --replace."
        )
    return Report(*names, counts, copied, dry_run=False, replaced=present)


def delete_source(context: str, target_url: str, *, dry_run: bool = False) -> dict[str, int]:
    """Delete ``context``'s rows from the source, once ``target_url`` holds each; rows per table.

    Each copied row must be on the target (by primary key; the target may hold
    more, written since by the new deployment). The context's closed outbox
    rows, which the copy leaves behind as history, are deleted with the rest.
    """
    parts = parts_of(context)
    with _source(context, read_only=False) as source, _target(target_url) as target:
        _refuse_same_database(source, target)
        _require_tables(target, parts, context)
        missing = {part.table: n for part in parts if (n := _missing(source, target, part))}
        if missing:
            raise CutoverError(
                f"the target lacks rows of {context} the source holds ({_listing(missing)}): "
                "copy them first (copy_context_data --replace, before the new deployment "
                "starts); nothing was deleted."
            )
        counts = {part.table: _count(source, part, part.owned) for part in parts}
        if dry_run:
            source.rollback()
            return counts
        for part in reversed(parts):
            _delete(source, part)
        source.commit()
    return counts


# --- connections ---------------------------------------------------------------


def _source(context: str, *, read_only: bool = True) -> psycopg.Connection:
    """A connection of its own to the context's database, reading one snapshot."""
    alias = database_for(context)
    settings = connections[alias].settings_dict
    if settings["ENGINE"] != "django.db.backends.postgresql":
        raise CutoverError(f"the {alias!r} database is not PostgreSQL; the copy needs it.")
    params = {
        "dbname": settings["NAME"],
        "user": settings.get("USER"),
        "password": settings.get("PASSWORD"),
        "host": settings.get("HOST"),
        "port": settings.get("PORT"),
        **{key: value for key, value in settings["OPTIONS"].items() if key in LIBPQ_OPTIONS},
    }
    conninfo = make_conninfo(**{k: str(v) for k, v in params.items() if v}, options=UTC)
    connection = psycopg.connect(conninfo)
    connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    connection.read_only = read_only
    return connection


def _target(url: str) -> psycopg.Connection:
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        raise CutoverError(f"--to must be a postgres:// URL, not {url.split(':', 1)[0]}://...")
    try:
        return psycopg.connect(url, autocommit=True, options=UTC)
    except psycopg.OperationalError as exc:
        raise CutoverError(f"cannot connect to the target: {exc}".strip()) from exc


def _name(connection: psycopg.Connection) -> str:
    info = connection.info
    return f"{info.dbname} on {info.host}:{info.port}"


def _refuse_same_database(source: psycopg.Connection, target: psycopg.Connection) -> None:
    where = "SELECT current_database(), inet_server_addr(), inet_server_port()"
    if source.execute(where).fetchone() == target.execute(where).fetchone():
        raise CutoverError("the target is the source database itself.")


def _require_tables(target: psycopg.Connection, parts: Sequence[Part], context: str) -> None:
    tables = [part.table for part in parts]
    found = target.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename = ANY(%s)",
        [tables],
    ).fetchall()
    absent = sorted(set(tables) - {row[0] for row in found})
    if absent:
        raise CutoverError(
            f"the target has no table {', '.join(absent)}: migrate it first "
            f"(SHOP_CONTEXTS={context} DATABASE_URL=<target> manage.py migrate)."
        )


# --- statements ----------------------------------------------------------------


def _rows(part: Part, condition: str, *columns: str) -> sql.Composed:
    return sql.SQL("SELECT {columns} FROM {table} WHERE {condition}").format(
        columns=sql.SQL(", ").join(map(sql.Identifier, columns or part.columns)),
        table=sql.Identifier(part.table),
        condition=sql.SQL(condition),
    )


def _count(connection: psycopg.Connection, part: Part, condition: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {table} WHERE {condition}").format(
        table=sql.Identifier(part.table), condition=sql.SQL(condition)
    )
    row = connection.execute(query, part.params).fetchone()
    return int(row[0]) if row else 0


def _tally(connection: psycopg.Connection, part: Part) -> Tally:
    """The part's copied rows: their count, and the sum of a 64-bit hash of each row's text."""
    query = sql.SQL(
        "SELECT count(*), coalesce(sum(hashtextextended(ROW({columns})::text, 0)), 0) "
        "FROM {table} WHERE {condition}"
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, part.columns)),
        table=sql.Identifier(part.table),
        condition=sql.SQL(part.copied),
    )
    row = connection.execute(query, part.params).fetchone()
    return Tally(int(row[0]), int(row[1])) if row else Tally(0, 0)


def _copy(source: psycopg.Connection, target: psycopg.Connection, part: Part) -> None:
    """Stream the part's rows with COPY, every column as stored."""
    out = sql.SQL("COPY ({rows}) TO STDOUT").format(rows=_rows(part, part.copied))
    into = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(part.table),
        columns=sql.SQL(", ").join(map(sql.Identifier, part.columns)),
    )
    with (
        source.cursor().copy(out, part.params) as reading,
        target.cursor().copy(into) as writing,
    ):
        for block in reading:
            writing.write(block)


def _delete(connection: psycopg.Connection, part: Part) -> None:
    connection.execute(
        sql.SQL("DELETE FROM {table} WHERE {condition}").format(
            table=sql.Identifier(part.table), condition=sql.SQL(part.owned)
        ),
        part.params,
    )


def _missing(source: psycopg.Connection, target: psycopg.Connection, part: Part) -> int:
    """How many of the part's copied rows in the source have no row on the target."""
    missing = 0
    for keys in _batches(source, _rows(part, part.copied, part.pk), part.params):
        query = sql.SQL("SELECT count(*) FROM {table} WHERE {pk} = ANY(%s)").format(
            table=sql.Identifier(part.table), pk=sql.Identifier(part.pk)
        )
        row = target.execute(query, [keys]).fetchone()
        missing += len(keys) - (int(row[0]) if row else 0)
    return missing


def _batches(
    connection: psycopg.Connection, query: sql.Composed, params: tuple[str, ...]
) -> Iterator[list[object]]:
    with connection.cursor(name="cutover_keys") as cursor:
        cursor.execute(query, params)
        while rows := cursor.fetchmany(CHECK_BATCH):
            yield [row[0] for row in rows]


def _sequence_resets(context: str) -> list[str]:
    """Django's own ``sqlsequencereset`` statements for the context's models."""
    operations = connections[database_for(context)].ops
    return operations.sequence_reset_sql(no_style(), own_models(context))


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{table}: {n}" for table, n in counts.items())
