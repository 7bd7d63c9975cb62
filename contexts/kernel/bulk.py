"""``update_rows``: Django's ``bulk_update`` as one ``UPDATE ... FROM (VALUES ...)``.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connections, router
from django.db.models import Model


def update_rows(objs: Iterable[Model], fields: Sequence[str], *, using: str | None = None) -> int:
    """Write ``fields`` of every object in ``objs`` (all of one model) in one statement."""
    rows = list(objs)
    if not rows:
        return 0
    model = type(rows[0])
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return model._base_manager.using(alias).bulk_update(rows, fields)
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    qn = connection.ops.quote_name
    casts = [f"%s::{field.db_type(connection)}" for field in columns]
    values = ", ".join(f"({', '.join(casts)})" for _ in rows)
    names = [qn(field.column) for field in columns]  # type: ignore[union-attr,arg-type]
    table, pk = qn(meta.db_table), names[0]
    sql = (
        f"UPDATE {table} SET {', '.join(f'{name} = v.{name}' for name in names[1:])}"
        f" FROM (VALUES {values}) AS v({', '.join(names)}) WHERE {table}.{pk} = v.{pk}"
    )
    params = [
        field.get_db_prep_save(getattr(row, field.attname), connection)  # type: ignore[union-attr]
        for row in rows
        for field in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
