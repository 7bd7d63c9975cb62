"""``manage.py copy_context_data``: payments' rows move from the monolith's database
into a payments deployment's, migrated apart with ``SHOP_CONTEXTS=payments``.

The rows are made through payments' public functions in the suite's database
(the monolith's; in split mode payments' own alias); the target is a database
of its own, created and migrated once for the module in a subprocess.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from contexts.kernel import cutover
from contexts.kernel.databases import database_for
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.payments import public as payments
from contexts.payments.contracts import ChargeDeclined
from tests.extraction.deployments import Deployment, drop_database, recreate_database

pytestmark = [pytest.mark.extraction, pytest.mark.django_db(transaction=True)]

PAYMENTS_TABLES = (
    "payments_payment",
    "payments_refund",
    "payments_gatewayattempt",
    "payments_simulatedgatewayoperation",
)


@pytest.fixture(scope="module")
def target_url(tmp_path_factory) -> Iterator[str]:
    """A payments deployment's database: created fresh, migrated with SHOP_CONTEXTS=payments."""
    deployment = Deployment("cutover", contexts="payments", directory=tmp_path_factory.mktemp("c"))
    process = deployment.migrate()
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output.decode()[-4000:]
    yield deployment.database_url
    drop_database(deployment.database_url)


@pytest.fixture
def target(target_url) -> Iterator[psycopg.Connection]:
    """The target database, emptied of payments' rows before and after each test."""
    with psycopg.connect(target_url, autocommit=True) as connection:
        _empty(connection)
        yield connection
        _empty(connection)


def _empty(connection: psycopg.Connection) -> None:
    tables = ", ".join((*PAYMENTS_TABLES, "kernel_outboxmessage", "kernel_inboxmessage",
                        "kernel_deadletter"))  # fmt: skip
    connection.execute(f"TRUNCATE {tables}")


def copy(target_url: str, *flags: str) -> str:
    out = StringIO()
    call_command("copy_context_data", "payments", "--to", target_url, *flags, stdout=out)
    return out.getvalue()


def charge(token: str) -> uuid.UUID:
    order_id = uuid.uuid4()
    with contextlib.suppress(ChargeDeclined):  # a declined charge leaves its rows too
        payments.charge_for_order(
            order_id=order_id, amount=Decimal("12.50"), currency="EUR", payment_token=token
        )
    return order_id


def kernel_rows(context: str, *, open_outbox: bool) -> None:
    """One outbox row (open or closed), one inbox row and one dead letter of ``context``."""
    alias, now = database_for(context), timezone.now()
    event_id = uuid.uuid4()
    envelope = {"event_id": str(event_id), "name": f"{context}.Something", "version": 1}
    OutboxMessage.objects.using(alias).create(
        event_id=event_id, context=context, event_name=f"{context}.Something", event_version=1,
        payload={"n": 1}, correlation_id=f"corr-{context}", occurred_at=now,
        published_at=None if open_outbox else now,
    )  # fmt: skip
    common = {"event_id": uuid.uuid4(), "context": context, "event_name": "orders.OrderPlaced",
              "event_version": 1, "envelope": envelope}  # fmt: skip
    InboxMessage.objects.using(alias).create(
        **common, handler=f"{context}.on_order_placed", status="processed",
        received_at=now, last_attempt_at=now, processed_at=now, attempts=1,
    )  # fmt: skip
    DeadLetter.objects.using(alias).create(
        **common, handler=f"{context}.on_order_placed", error="boom", attempts=5
    )


def table_rows(connection: psycopg.Connection, sql: str) -> list[tuple]:
    return connection.execute(sql).fetchall()


def source_rows(sql: str) -> list[tuple]:
    with connections[database_for("payments")].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


PAYMENT_COLUMNS = (
    "SELECT id, order_id, amount, currency, status, gateway_reference, attempts, created_at, "
    "updated_at, captured_at FROM payments_payment ORDER BY id"
)


def test_copies_payments_rows_and_its_kernel_rows_then_refuses_a_second_copy(target_url, target):
    captured, declined, refunded = charge("tok_visa"), charge("tok_decline"), charge("tok_visa")
    payments.refund_for_order(order_id=refunded)
    kernel_rows("payments", open_outbox=True)
    kernel_rows("payments", open_outbox=False)  # a closed outbox row stays behind
    kernel_rows("orders", open_outbox=True)  # another context's rows: never copied

    dry = copy(target_url, "--dry-run")
    assert "would copy" in dry and "nothing was written" in dry, dry
    assert all(table_rows(target, f"SELECT count(*) FROM {t}") == [(0,)] for t in PAYMENTS_TABLES)

    out = copy(target_url)
    assert "verified:" in out, out
    # Every column as it was, timestamps included; three payments, one refund.
    assert table_rows(target, PAYMENT_COLUMNS) == source_rows(PAYMENT_COLUMNS)
    statuses = dict(table_rows(target, "SELECT order_id, status FROM payments_payment"))
    assert statuses == {captured: "CAPTURED", declined: "DECLINED", refunded: "REFUNDED"}
    assert table_rows(target, "SELECT count(*) FROM payments_refund") == [(1,)]
    for table in PAYMENTS_TABLES:
        (count,) = source_rows(f"SELECT count(*) FROM {table}")[0]
        assert count > 0, table
        assert table_rows(target, f"SELECT count(*) FROM {table}") == [(count,)], table
        assert f"{table} " in out and f"(target: {count}, same values)" in out, out
    # The attempts' identity sequence was moved past the copied ids.
    (highest,) = table_rows(target, "SELECT max(id) FROM payments_gatewayattempt")[0]
    (following,) = table_rows(
        target, "SELECT nextval(pg_get_serial_sequence('payments_gatewayattempt', 'id'))"
    )[0]
    assert following > highest
    # Kernel rows: payments' open outbox row, its inbox row and dead letter only.
    assert table_rows(target, "SELECT context, published_at FROM kernel_outboxmessage") == [
        ("payments", None)
    ]
    assert (
        table_rows(target, "SELECT context, handler, status FROM kernel_inboxmessage")
        == [("payments", "payments.on_order_placed", "processed")] * 2
    )
    assert table_rows(target, "SELECT context FROM kernel_deadletter") == [("payments",)] * 2

    with pytest.raises(CommandError, match="already holds rows of payments"):
        copy(target_url)
    dry = copy(target_url, "--dry-run", "--replace")
    assert "replacing on the target: payments_payment: 3" in dry, dry
    assert table_rows(target, "SELECT count(*) FROM kernel_outboxmessage") == [(1,)]
    assert "verified:" in copy(target_url, "--replace")
    assert table_rows(target, "SELECT count(*) FROM payments_payment") == [(3,)]


def test_deletes_the_source_rows_only_once_the_target_holds_them(target_url, target):
    charge("tok_visa")
    kernel_rows("payments", open_outbox=False)
    kernel_rows("orders", open_outbox=True)
    copy(target_url)
    late = charge("tok_visa")  # written after the copy: the target lacks it

    with pytest.raises(CommandError, match="the target lacks rows of payments"):
        call_command("copy_context_data", "payments", "--to", target_url, "--delete-source")
    target.execute("DELETE FROM payments_gatewayattempt")
    assert "verified:" in copy(target_url, "--replace")

    out = StringIO()
    call_command(
        "copy_context_data", "payments", "--to", target_url, "--delete-source", "--dry-run",
        stdout=out,
    )  # fmt: skip
    assert "nothing was deleted" in out.getvalue()
    assert source_rows("SELECT count(*) FROM payments_payment") == [(2,)]

    call_command("copy_context_data", "payments", "--to", target_url, "--delete-source",
                 stdout=StringIO())  # fmt: skip
    for table in PAYMENTS_TABLES:
        assert source_rows(f"SELECT count(*) FROM {table}") == [(0,)], table
    alias = database_for("payments")
    assert not OutboxMessage.objects.using(alias).filter(context="payments").exists()
    assert not InboxMessage.objects.using(alias).filter(context="payments").exists()
    # The other contexts' kernel rows stay (in shared mode they are in the same tables).
    orders = database_for("orders")
    assert OutboxMessage.objects.using(orders).filter(context="orders").count() == 1
    assert DeadLetter.objects.using(orders).filter(context="orders").count() == 1
    # The row written after the first copy moved with the second.
    assert target.execute(
        "SELECT count(*) FROM payments_payment WHERE order_id = %s", [late]
    ).fetchone() == (1,)


def test_refuses_what_it_cannot_copy(target_url, target):
    with pytest.raises(CommandError, match="must be a postgres:// URL"):
        copy("sqlite:///elsewhere.sqlite3")
    with pytest.raises(CommandError, match="unknown context 'kernel'"):
        call_command("copy_context_data", "kernel", "--to", target_url)
    with pytest.raises(CommandError, match="refers to auth_group, outside users"):
        call_command("copy_context_data", "users", "--to", target_url)
    unmigrated = target_url + "_unmigrated"
    recreate_database(unmigrated)
    try:
        with pytest.raises(CommandError, match="migrate it first"):
            copy(unmigrated)
    finally:
        drop_database(unmigrated)
    with pytest.raises(CommandError, match="the target is the source database itself"):
        copy(_source_url())


def _source_url() -> str:
    """The suite's own payments database, as a URL."""
    db = connections[database_for("payments")].settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def test_fails_when_the_source_changes_during_the_copy(target_url, target, monkeypatch):
    order_id = charge("tok_visa")
    resets = cutover._sequence_resets

    def write_meanwhile(context: str) -> list[str]:
        # A process not stopped yet: a payment changes after the snapshot was read.
        with connections[database_for("payments")].cursor() as cursor:
            cursor.execute(
                "UPDATE payments_payment SET last_error = %s WHERE order_id = %s",
                ["written during the copy", order_id],
            )
        return resets(context)

    monkeypatch.setattr(cutover, "_sequence_resets", write_meanwhile)
    with pytest.raises(CommandError, match="changed in the source during the copy"):
        copy(target_url)
    # The snapshot's rows were copied; the run to take the change is --replace.
    monkeypatch.undo()
    assert "verified:" in copy(target_url, "--replace")
    assert target.execute("SELECT last_error FROM payments_payment").fetchall() == [
        ("written during the copy",)
    ]
