"""The order row is the replay of its history: append-only entries, rebuild and verify."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from contexts.orders import history
from contexts.orders.models import Order, OrderHistoryEntry, OrderSummary
from contexts.orders.public import get_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(auth_client, place_order, make_product, run_saga):
    """Orders in every final state (and one still pending)."""
    product = make_product(stock=3)
    scarce = make_product(stock=0)

    confirmed = place_order(product)["id"]
    run_saga(confirmed)
    declined = place_order(product, token="tok_decline")["id"]
    run_saga(declined)
    out_of_stock = place_order(scarce)["id"]
    run_saga(out_of_stock)
    cancelled = place_order(product)["id"]
    run_saga(cancelled)
    assert auth_client.post(f"/api/orders/{cancelled}/cancel").status_code == 200
    pending = place_order(product)["id"]
    return {
        "confirmed": confirmed,
        "declined": declined,
        "out_of_stock": out_of_stock,
        "cancelled": cancelled,
        "pending": pending,
    }


def test_every_order_row_matches_its_replayed_history(orders):
    for order_id in orders.values():
        order = Order.objects.get(pk=order_id)
        state = history.replay(order.history.order_by("sequence"))
        assert (state.status, state.cancel_reason) == (order.status, order.cancel_reason)
        assert state.last_sequence == order.last_sequence
        assert state.updated_at == order.updated_at


def test_rebuild_orders_verify_is_clean(orders):
    out = StringIO()

    call_command("rebuild_orders", "--verify", stdout=out)

    assert "every order matches its history" in out.getvalue()


def test_rebuild_orders_verify_reports_a_row_that_differs(orders):
    Order.objects.filter(pk=orders["confirmed"]).update(status="PENDING")
    err = StringIO()

    with pytest.raises(CommandError, match="1 order"):
        call_command("rebuild_orders", "--verify", stderr=err)

    assert orders["confirmed"] in err.getvalue()
    assert "status" in err.getvalue()


def test_rebuild_orders_repairs_the_row_from_history(orders):
    Order.objects.filter(pk=orders["declined"]).update(status="CONFIRMED", cancel_reason=None)

    call_command("rebuild_orders", stdout=StringIO())

    order = Order.objects.get(pk=orders["declined"])
    assert (order.status, order.cancel_reason) == ("CANCELLED", "PAYMENT_DECLINED")
    call_command("rebuild_orders", "--verify", stdout=StringIO())


def test_rebuild_read_models_restores_the_order_list(orders, auth_client):
    before = auth_client.get("/api/orders").json()
    OrderSummary.objects.all().delete()
    assert auth_client.get("/api/orders").json()["count"] == 0

    call_command("rebuild_read_models", stdout=StringIO())

    assert auth_client.get("/api/orders").json() == before


def test_history_is_append_only(orders):
    entry = OrderHistoryEntry.objects.filter(order_id=orders["confirmed"]).first()

    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        OrderHistoryEntry.objects.filter(pk=entry.pk).update(type="ORDER_CANCELLED")
    with pytest.raises(TypeError):
        OrderHistoryEntry.objects.filter(pk=entry.pk).delete()


def test_a_history_no_order_could_have_is_refused():
    placed = OrderHistoryEntry(order_id=None, sequence=1, type="ORDER_CONFIRMED", data={})

    with pytest.raises(history.HistoryError):
        history.replay([placed])
    with pytest.raises(history.HistoryError):
        history.replay([])


def test_get_order_returns_plain_data(orders):
    info = get_order(orders["cancelled"])

    assert info.status == "CANCELLED"
    assert info.cancel_reason == "CUSTOMER_CANCELLED"
    assert len(info.items) == 1
    assert info.items[0].quantity == 1
    assert info.total == info.items[0].line_total
    assert get_order(Order._meta.pk.to_python("00000000-0000-4000-8000-000000000000")) is None


def test_the_database_refuses_to_rewrite_history(orders):
    from django.db import DatabaseError, connections

    from contexts.kernel.databases import database_for
    from contexts.kernel.transactions import atomic

    alias = database_for("orders")
    if connections[alias].vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    for sql in (
        "UPDATE orders_orderhistoryentry SET type = 'ORDER_CANCELLED'",
        "DELETE FROM orders_orderhistoryentry",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            atomic("orders"),
            connections[alias].cursor() as cursor,
        ):
            cursor.execute(sql)
    assert OrderHistoryEntry.objects.filter(order_id=orders["confirmed"]).count() == 4


def test_rebuild_orders_dry_run_lists_the_repair_and_changes_nothing(orders):
    Order.objects.filter(pk=orders["declined"]).update(status="CONFIRMED", cancel_reason=None)
    out = StringIO()

    call_command("rebuild_orders", "--dry-run", "--batch-size", "2", stdout=out)

    assert f"would repair {orders['declined']}" in out.getvalue()
    assert "2 order(s) checked" in out.getvalue()  # progress, batch by batch
    assert "5 checked, 1 would be repaired" in out.getvalue()
    assert Order.objects.get(pk=orders["declined"]).status == "CONFIRMED"


def test_rebuild_read_models_in_small_batches_with_a_dry_run_first(orders, auth_client):
    before = auth_client.get("/api/orders").json()
    OrderSummary.objects.filter(order_id=orders["confirmed"]).update(status="PENDING")
    out = StringIO()

    call_command("rebuild_read_models", "--dry-run", stdout=out)
    assert "1 of 5 order summaries differ" in out.getvalue()
    assert OrderSummary.objects.get(order_id=orders["confirmed"]).status == "PENDING"

    call_command("rebuild_read_models", "--batch-size", "2", stdout=out)
    assert "rebuilt 5 order summaries (1 changed)" in out.getvalue()
    assert auth_client.get("/api/orders").json() == before


def test_rebuild_commands_refuse_a_batch_size_below_one():
    for command in ("rebuild_orders", "rebuild_read_models"):
        with pytest.raises(CommandError, match="--batch-size"):
            call_command(command, "--batch-size", "0", stdout=StringIO())


def test_every_history_type_has_a_customer_facing_rendering():
    """A new entry type must say what customers see, not fall back to showing nothing."""
    from contexts.orders.history import _PUBLIC
    from contexts.orders.models import HistoryType

    assert set(HistoryType.values) == set(_PUBLIC)
