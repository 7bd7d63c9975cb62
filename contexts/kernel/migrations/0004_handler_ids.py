"""Handlers are identified by a stable id, no longer by their import path.

Inbox rows and dead letters written before store the import path; this maps
each shipped handler's old path to its id. A row whose event already has a
row under the new id (a delivery made by a newer worker meanwhile) keeps its
old path, so the (event, handler) uniqueness holds; it is an inert duplicate.
"""

from django.db import migrations

#: Import path (the old identity) -> stable handler id.
HANDLER_IDS = {
    "contexts.notifications.handlers.welcome_new_user": "notifications.welcome_new_user",
    "contexts.notifications.handlers.notify_order_confirmed": (
        "notifications.notify_order_confirmed"
    ),
    "contexts.notifications.handlers.notify_order_cancelled": (
        "notifications.notify_order_cancelled"
    ),
    "contexts.orders.handlers.project_order_placed": "orders.project_order_placed",
    "contexts.orders.handlers.project_order_confirmed": "orders.project_order_confirmed",
    "contexts.orders.handlers.project_order_cancelled": "orders.project_order_cancelled",
    "contexts.inventory.handlers.create_stock_level_for_new_product": (
        "inventory.create_stock_level"
    ),
}


def _rename(apps, schema_editor, mapping):
    alias = schema_editor.connection.alias
    inbox = apps.get_model("kernel", "InboxMessage").objects.using(alias)
    letters = apps.get_model("kernel", "DeadLetter").objects.using(alias)
    for old, new in mapping.items():
        taken = inbox.filter(handler=new).values("event_id")
        inbox.filter(handler=old).exclude(event_id__in=taken).update(handler=new)
        letters.filter(handler=old).update(handler=new)


def forwards(apps, schema_editor):
    _rename(apps, schema_editor, HANDLER_IDS)


def backwards(apps, schema_editor):
    _rename(apps, schema_editor, {new: old for old, new in HANDLER_IDS.items()})


class Migration(migrations.Migration):
    dependencies = [("kernel", "0003_outbox_delivery_state")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
