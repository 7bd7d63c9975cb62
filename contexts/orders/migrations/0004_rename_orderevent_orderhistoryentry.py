"""A history row is an entry, not an event: ``OrderEvent`` becomes ``OrderHistoryEntry``.

The table follows the model (``orders_orderhistoryentry``). PostgreSQL keeps a
trigger on its table through a rename, so the append-only guard of 0002 still
refuses UPDATE and DELETE; its name is renamed too, to match the table. The two
constraints get names without "event".
"""

from django.db import migrations, models

RENAME_TRIGGER = """
ALTER TRIGGER orders_orderevent_append_only ON orders_orderhistoryentry
    RENAME TO orders_orderhistoryentry_append_only;
"""

UNRENAME_TRIGGER = """
ALTER TRIGGER orders_orderhistoryentry_append_only ON orders_orderhistoryentry
    RENAME TO orders_orderevent_append_only;
"""


def rename_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RENAME_TRIGGER, params=None)


def unrename_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNRENAME_TRIGGER, params=None)


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_saga_needs_attention")]

    operations = [
        migrations.RenameModel(old_name="OrderEvent", new_name="OrderHistoryEntry"),
        migrations.RunPython(rename_trigger, unrename_trigger),
        migrations.RemoveConstraint(
            model_name="orderhistoryentry", name="order_event_sequence_unique"
        ),
        migrations.RemoveConstraint(
            model_name="orderhistoryentry", name="order_event_sequence_gte_1"
        ),
        migrations.AddConstraint(
            model_name="orderhistoryentry",
            constraint=models.UniqueConstraint(
                fields=("order", "sequence"), name="order_history_sequence_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="orderhistoryentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("sequence__gte", 1)), name="order_history_sequence_gte_1"
            ),
        ),
    ]
