"""Bulk writes of the hot path, each one statement: ``update_rows``, ``update_rows_where``,
``upsert_rows`` and ``insert_rows``; and ``from_rows``, model instances of rows a raw
statement returned.

``bulk_update`` writes ``SET f = CASE WHEN pk = 1 THEN ... WHEN pk = 2 THEN
... END`` for every field, building a ``When`` expression per row and field
and resolving each of them: on the saga's hot path (a batch's saga rows,
orders, stock levels and payments, several fields each) that Python work cost
more CPU than the statement did in PostgreSQL. On PostgreSQL ``update_rows``
sends the rows as a ``VALUES`` list joined on the primary key instead: the
same single statement, the same result, with one placeholder per value and
no expressions. Elsewhere (SQLite in the embedded mode) it is ``bulk_update``.

Like ``bulk_update``, it writes the listed fields as they are on the objects
(no ``save()``, no signals, no ``auto_now``) and returns the rows matched.

The other two replace a read-lock-decide-write sequence (a ``SELECT ... FOR
UPDATE``, then the write) with the one statement that expresses the same rule,
so a caller waits for one round trip instead of two or three:

- ``update_rows_where``: ``update_rows`` for the rows whose stored state still
  allows the change (a conditional state change), returning the rows changed;
- ``upsert_rows``: insert rows, or count a repeated request on the row that
  exists already (``INSERT ... ON CONFLICT ... DO UPDATE ... RETURNING``),
  returning every row as stored, locked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from django.db import connections, router
from django.db.models import Field, Model
from django.db.models.fields import AutoFieldMixin

M = TypeVar("M", bound=Model)


def update_rows(objs: Iterable[Model], fields: Sequence[str], *, using: str | None = None) -> int:
    """Write ``fields`` of every object in ``objs`` (all of one model) in one statement."""
    rows = list(objs)
    if not rows:
        return 0
    model = type(rows[0])
    alias, connection = _database(model, using)
    if connection.vendor != "postgresql":
        return model._base_manager.using(alias).bulk_update(rows, fields)
    sql, params = _update_from_values(rows, fields, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def update_rows_where(
    objs: Iterable[M],
    fields: Sequence[str],
    *,
    guard: str,
    allowed: Callable[[M], Collection[Any]],
    lock_order: str | None = None,
    using: str | None = None,
) -> list[M]:
    """Write ``fields`` of each object whose stored ``guard`` field is one of ``allowed(obj)``.

    A conditional state change for many rows at once (``UPDATE ... FROM
    (VALUES ...) WHERE guard = ANY(allowed) RETURNING``): each row's rule is
    checked against the row as committed when the statement locks it, so it
    takes the place of a ``SELECT ... FOR UPDATE`` followed by the write.
    Every listed row is locked (until the transaction ends) in ``lock_order``
    (a field name, the primary key by default) before any is written, as that
    ``SELECT ... ORDER BY ... FOR UPDATE`` would: callers locking the same rows
    in the same order cannot deadlock. Returns the rows changed, as stored
    after the change (rows not changed, or not found, are left out).
    """
    rows = list(objs)
    if not rows:
        return []
    model = type(rows[0])
    alias, connection = _database(model, using)
    meta = model._meta
    pk_field = _field(model, "pk")
    order = _field(model, lock_order or pk_field.name)
    if connection.vendor != "postgresql":
        manager = model._base_manager.using(alias)
        locked = manager.select_for_update().filter(pk__in=[row.pk for row in rows])
        stored = {row.pk: getattr(row, guard) for row in locked.order_by(order.name)}
        chosen = [row for row in rows if row.pk in stored and stored[row.pk] in allowed(row)]
        if chosen:
            manager.bulk_update(chosen, fields)
        return list(manager.filter(pk__in=[row.pk for row in chosen]))
    guard_field = _field(model, guard)
    qn = connection.ops.quote_name
    table, pk = qn(meta.db_table), qn(_column(pk_field))
    allowed_name = qn("__allowed")
    update, params = _update_from_values(
        rows,
        fields,
        connection,
        extra=(f"%s::{guard_field.db_type(connection)}[]", allowed_name),
        extra_values=lambda row: [
            guard_field.get_db_prep_save(value, connection) for value in allowed(row)
        ],
    )
    keys = ", ".join(["%s"] * len(rows))
    sql = (
        f"WITH locked AS (SELECT {pk} FROM {table} WHERE {pk} IN ({keys})"
        f" ORDER BY {qn(_column(order))} FOR UPDATE) "
        f"{update} AND {table}.{pk} IN (SELECT {pk} FROM locked)"
        f" AND {table}.{qn(_column(guard_field))} = ANY(v.{allowed_name})"
        f" RETURNING {_columns(model, table, qn)}"
    )
    keys_params = [pk_field.get_db_prep_save(row.pk, connection) for row in rows]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*keys_params, *params])
        return from_rows(model, alias, cursor.fetchall())


def upsert_rows(
    objs: Iterable[M],
    *,
    unique: str,
    increment: Sequence[str],
    refresh: Sequence[str] = (),
    when_same: Sequence[str] = (),
    when: Mapping[str, Collection[Any]] | None = None,
    using: str | None = None,
) -> list[M]:
    """Insert each object, or count it on the row holding its ``unique`` value; one statement.

    A repeated request (an order charged again, a key sent again) is counted
    on the row it repeats: an existing row gets 1 added to each ``increment``
    field and each ``refresh`` field set to the object's value, but only where
    its ``when_same`` fields equal the object's and each ``when`` field holds
    one of the listed values; otherwise it is left as it is. Either way the
    row is locked until the transaction ends, as a ``SELECT ... FOR UPDATE``
    would lock it, and returned as stored. Rows are written in the order
    given: sort them to lock in one order across callers.

    Fields are saved as ``bulk_create`` saves them (``auto_now`` applied, an
    auto-incremented primary key left to the database). Returns the rows as
    stored after the statement, one per object, in the objects' order; an
    object whose primary key (set by the caller) differs from its row's was
    counted on a row that existed. The same SQL runs on PostgreSQL and SQLite.
    """
    rows = list(objs)
    if not rows:
        return []
    model = type(rows[0])
    alias, connection = _database(model, using)
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)

    def column(name: str) -> str:
        return qn(_column(_field(model, name)))

    insert, params = _insert_values(rows, connection)
    conditions = [f"{table}.{column(name)} = EXCLUDED.{column(name)}" for name in when_same]
    condition_params: list[Any] = []
    for name, accepted in (when or {}).items():
        conditions.append(f"{table}.{column(name)} IN ({', '.join(['%s'] * len(accepted))})")
        field = _field(model, name)
        condition_params += [field.get_db_prep_save(value, connection) for value in accepted]
    changes = {name: f"{table}.{column(name)} + 1" for name in increment}
    changes |= {name: f"EXCLUDED.{column(name)}" for name in refresh}
    assignments = []
    for name, change in changes.items():
        if conditions:
            where = " AND ".join(conditions)
            change = f"CASE WHEN {where} THEN {change} ELSE {table}.{column(name)} END"
            params += condition_params
        assignments.append(f"{column(name)} = {change}")
    sql = (
        f"{insert} ON CONFLICT ({column(unique)}) DO UPDATE SET {', '.join(assignments)}"
        f" RETURNING {_columns(model, table, qn)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        stored = from_rows(model, alias, cursor.fetchall())
    key = _field(model, unique)
    by_key = {key.to_python(getattr(row, key.attname)): row for row in stored}
    return [by_key[key.to_python(getattr(row, key.attname))] for row in rows]


def insert_rows(groups: Sequence[Sequence[Model]], *, using: str) -> None:
    """Insert every group's objects (each group of one model), all in one statement.

    On PostgreSQL one ``WITH g0 AS (INSERT ... RETURNING pk), g1 AS (INSERT
    ...) SELECT ...`` writes them all (a foreign key between two groups is
    checked at the end of the statement, so parents and children may go in
    together); elsewhere each group is a ``bulk_create``, in the order given.
    Fields are saved as ``bulk_create`` saves them (``auto_now`` applied) and
    auto-incremented primary keys are set on the objects from what the
    database returns. No signals, no ``save()``.
    """
    groups = [list(group) for group in groups if group]
    if not groups:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        for group in groups:
            type(group[0])._base_manager.using(using).bulk_create(group)
        return
    qn = connection.ops.quote_name
    statements, returned_keys, params = [], [], []
    for number, group in enumerate(groups):
        pk = qn(_column(_field(type(group[0]), "pk")))
        insert, group_params = _insert_values(group, connection)
        statements.append(f"g{number} AS ({insert} RETURNING {pk})")
        if _has_auto_pk(type(group[0])):
            returned_keys.append(f"(SELECT {number}, {pk} FROM g{number})")
        params += group_params
    # Every sub-statement runs whether the main query reads it or not.
    main = " UNION ALL ".join(returned_keys) or "SELECT NULL, NULL"
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(statements)} {main}", params)
        returned = cursor.fetchall()
    # Each group's keys come back in the order of its VALUES (bulk_create relies on it too).
    keys: dict[int, list[Any]] = {}
    for number, key in returned:
        if number is not None:
            keys.setdefault(number, []).append(key)
    for number, group in enumerate(groups):
        pk = _field(type(group[0]), "pk")
        for index, obj in enumerate(group):
            if number in keys:
                setattr(obj, pk.attname, keys[number][index])
            obj._state.adding, obj._state.db = False, using


def _insert_values(rows: Sequence[Model], connection: Any) -> tuple[str, list[Any]]:
    """``INSERT INTO table (...) VALUES (...), ...`` for ``rows`` (all of one model) and its
    parameters, saved as ``bulk_create`` saves them: ``auto_now`` applied, an
    auto-incremented primary key left to the database."""
    model = type(rows[0])
    auto_pk = _has_auto_pk(model)
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and auto_pk)]
    qn = connection.ops.quote_name
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(_column(f)) for f in fields)})"
        f" VALUES {', '.join([row] * len(rows))}"
    )
    params = [
        field.get_db_prep_save(field.pre_save(obj, add=True), connection)
        for obj in rows
        for field in fields
    ]
    return sql, params


def _has_auto_pk(model: type[Model]) -> bool:
    return isinstance(model._meta.pk, AutoFieldMixin)


def _database(model: type[Model], using: str | None) -> tuple[str, Any]:
    """The alias written through (``using``, or the router's choice) and its connection."""
    alias = using or router.db_for_write(model)
    return alias, connections[alias]


def _field(model: type[Model], name: str) -> Field:
    """The model's concrete field ``name`` (``pk``: its primary key)."""
    meta = model._meta
    field = meta.pk if name == "pk" else meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{meta.label}.{name} is not a concrete field")
    return field


def _column(field: Field) -> str:
    return cast(str, field.column)  # a concrete field's (see _field)


def _update_from_values(
    rows: Sequence[Model],
    fields: Sequence[str],
    connection: Any,
    *,
    extra: tuple[str, str] | None = None,
    extra_values: Callable[[Any], Any] | None = None,
) -> tuple[str, list[Any]]:
    """``UPDATE table SET ... FROM (VALUES ...) AS v(...) WHERE table.pk = v.pk`` and its
    parameters; ``extra`` adds a column to ``v`` (its placeholder and name), filled by
    ``extra_values(row)``."""
    model = type(rows[0])
    columns = [_field(model, "pk"), *(_field(model, name) for name in fields)]
    qn = connection.ops.quote_name
    casts = [f"%s::{field.db_type(connection)}" for field in columns]
    names = [qn(_column(field)) for field in columns]
    if extra is not None:
        casts.append(extra[0])
    values = ", ".join(f"({', '.join(casts)})" for _ in rows)
    table, pk = qn(model._meta.db_table), names[0]
    as_names = [*names, extra[1]] if extra is not None else names
    sql = (
        f"UPDATE {table} SET {', '.join(f'{name} = v.{name}' for name in names[1:])}"
        f" FROM (VALUES {values}) AS v({', '.join(as_names)}) WHERE {table}.{pk} = v.{pk}"
    )
    params = []
    for row in rows:
        params += [
            field.get_db_prep_save(getattr(row, field.attname), connection) for field in columns
        ]
        if extra_values is not None:
            params.append(extra_values(row))
    return sql, params


def _columns(model: type[Model], table: str, qn: Callable[[str], str]) -> str:
    return ", ".join(f"{table}.{qn(_column(field))}" for field in model._meta.concrete_fields)


def from_rows(model: type[M], alias: str, rows: Sequence[Sequence[Any]]) -> list[M]:
    """Model instances of rows read back (every concrete column, in order), converted
    as a query's results are (e.g. SQLite's text back to UUIDs and decimals)."""
    connection = connections[alias]
    meta = model._meta
    fields = meta.concrete_fields
    columns = [field.get_col(meta.db_table) for field in fields]
    converters = [
        [*connection.ops.get_db_converters(col), *field.get_db_converters(connection)]
        for field, col in zip(fields, columns, strict=True)
    ]
    names = [field.attname for field in fields]
    instances = []
    for row in rows:
        values = []
        for value, col, field_converters in zip(row, columns, converters, strict=True):
            for converter in field_converters:
                value = converter(value, col, connection)
            values.append(value)
        instances.append(model.from_db(alias, names, values))
    return instances
