"""The database refuses UPDATE and DELETE on order history rows (PostgreSQL).

The model and its queryset refuse them in code too; this guards against raw
SQL and other clients. TRUNCATE (test teardown) is not affected.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION orders_history_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'order history is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER orders_orderevent_append_only
    BEFORE UPDATE OR DELETE ON orders_orderevent
    FOR EACH ROW EXECUTE FUNCTION orders_history_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS orders_orderevent_append_only ON orders_orderevent;
DROP FUNCTION IF EXISTS orders_history_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
