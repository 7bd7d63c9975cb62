"""Publishing and relaying, without a worker: what reaches the outbox and the broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contexts.kernel import relay
from contexts.kernel.correlation import reset_correlation_id, set_correlation_id
from contexts.kernel.databases import CONTEXTS, database_for
from contexts.kernel.models import OutboxMessage
from contexts.kernel.outbox import PublishOutsideTransaction, publish, publish_all
from contexts.kernel.relay import relay_outbox
from contexts.kernel.testing import purge_broker
from contexts.kernel.tests.helpers import (
    outbox_row,
    publish_committed,
    queued_deliveries,
    queued_messages,
)
from contexts.kernel.tests.probe import CONSUMER, PUBLISHER, ProbeEcho, ProbeHappened
from contexts.kernel.transactions import atomic

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_broker():
    purge_broker()


def all_outbox_rows() -> list[OutboxMessage]:
    aliases = {database_for(c) for c in CONTEXTS}
    return [row for alias in aliases for row in OutboxMessage.objects.using(alias)]


def test_publish_writes_the_outbox_row_in_the_publishers_database():
    event = ProbeHappened()
    with atomic(PUBLISHER):
        publish(event)

    row = OutboxMessage.objects.using(database_for(PUBLISHER)).get(pk=event.event_id)
    assert (row.event_name, row.event_version, row.context) == (
        "kernel_tests.ProbeHappened",
        1,
        PUBLISHER,
    )
    assert row.payload == {"mode": "ok", "path": ""}


def test_a_rolled_back_transaction_publishes_nothing():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), atomic(PUBLISHER):
        publish(ProbeHappened())
        raise Boom

    assert all_outbox_rows() == []
    assert queued_messages(CONSUMER) == []


def test_publish_outside_a_transaction_is_refused():
    with pytest.raises(PublishOutsideTransaction):
        publish(ProbeHappened())
    assert all_outbox_rows() == []


def test_publish_all_writes_every_row_in_one_statement_and_wakes_the_relay_once():
    events = [ProbeHappened() for _ in range(3)]
    connection = connections[database_for(PUBLISHER)]
    with atomic(PUBLISHER), CaptureQueriesContext(connection) as queries:
        publish_all(events)

    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    notifies = [q["sql"] for q in queries.captured_queries if "pg_notify" in q["sql"]]
    assert len(inserts) == 1
    assert len(notifies) == (1 if connection.vendor == "postgresql" else 0)
    assert all(outbox_row(event).published_at is None for event in events)


def test_commit_sends_no_message_and_the_relay_sends_one_batch_per_consumer():
    token = set_correlation_id("req-123")
    try:
        event = ProbeHappened(mode="ok")
        with atomic(PUBLISHER):
            publish(event)
    finally:
        reset_correlation_id(token)

    # The publisher (a web request) never talks to the broker: the relay loop does.
    assert outbox_row(event).published_at is None
    assert queued_messages(CONSUMER) == []

    assert relay_outbox() == 1
    assert outbox_row(event).published_at is not None
    [message] = queued_messages(CONSUMER)
    assert message["task"] == f"{CONSUMER}.deliver_events"
    [delivery] = message["kwargs"]["deliveries"]
    assert delivery["handler"] == "kernel_tests.handle_probe"
    assert delivery["event"]["event_id"] == str(event.event_id)
    assert delivery["event"]["correlation_id"] == "req-123"
    assert message["headers"]["x_correlation_id"] == "req-123"


def test_one_message_carries_every_delivery_of_a_relay_batch():
    events = [ProbeHappened() for _ in range(3)]
    with atomic(PUBLISHER):
        for event in events:
            publish(event)
    publish_committed(ProbeHappened(), relay=False)  # another transaction

    assert relay_outbox() == 4
    [message] = queued_messages(CONSUMER)
    ids = {d["event"]["event_id"] for d in message["kwargs"]["deliveries"]}
    assert {str(event.event_id) for event in events} < ids
    assert len(ids) == 4


def test_a_commit_notifies_the_relay_loops_once_and_a_rollback_not_at_all():
    import psycopg

    alias = database_for(PUBLISHER)
    if connections[alias].vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    params = connections[alias].get_connection_params()
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f"LISTEN {relay.RELAY_CHANNEL}")
        with atomic(PUBLISHER):
            for _ in range(3):
                publish(ProbeHappened())
        with pytest.raises(RuntimeError), atomic(PUBLISHER):
            publish(ProbeHappened())
            raise RuntimeError("rollback")
        received = list(listener.notifies(timeout=1.0))
    assert [n.channel for n in received] == [relay.RELAY_CHANNEL]


def test_a_relay_loop_per_database_claims_at_most_its_limit_per_run():
    from contexts.kernel.wakeup import registered_loops

    loops = {lp.name: lp for lp in registered_loops() if lp.name.startswith("kernel.relay.")}
    assert set(loops) == {f"kernel.relay.{alias}" for alias in relay.database_contexts()}
    run = loops[f"kernel.relay.{database_for(PUBLISHER)}"].run
    _unpublished_rows(5)

    assert [run(2), run(2), run(2), run(2)] == [2, 2, 1, 0]
    assert len(queued_deliveries(CONSUMER)) == 5


def test_an_event_nobody_consumes_is_marked_published_without_a_message():
    from contexts.kernel.bus import subscriptions_for

    assert subscriptions_for(ProbeEcho.name, ProbeEcho.version) == []
    event = ProbeEcho(source_event_id=ProbeHappened().event_id)
    publish_committed(event)
    assert outbox_row(event).published_at is not None


def _unpublished_rows(count: int) -> list[OutboxMessage]:
    """Rows committed while the relay could not run (broker down, process died)."""
    rows = [
        OutboxMessage(
            event_id=(event := ProbeHappened()).event_id,
            context=PUBLISHER,
            event_name=event.name,
            event_version=event.version,
            payload=event.payload(),
            correlation_id=event.correlation_id,
            occurred_at=event.occurred_at,
        )
        for _ in range(count)
    ]
    return OutboxMessage.objects.using(database_for(PUBLISHER)).bulk_create(rows)


def test_the_sweep_relays_rows_the_relay_loops_left_behind(settings):
    settings.EVENT_RELAY_BATCH_SIZE = 7
    rows = _unpublished_rows(20)

    assert relay_outbox() == 20

    assert not OutboxMessage.objects.using(database_for(PUBLISHER)).filter(
        published_at__isnull=True
    )
    ids = [m["kwargs"]["event"]["event_id"] for m in queued_deliveries(CONSUMER)]
    assert len(queued_messages(CONSUMER)) == 3  # one per batch of 7
    assert sorted(ids) == sorted(str(row.event_id) for row in rows)
    assert relay_outbox() == 0


def test_a_relay_crashing_mid_batch_leaves_its_rows_for_the_next_run(settings, monkeypatch):
    settings.EVENT_RELAY_BATCH_SIZE = 10
    _unpublished_rows(10)
    real_send = relay._send

    def send_then_die(*args):
        real_send(*args)
        raise RuntimeError("relay process died after sending, before its commit")

    monkeypatch.setattr(relay, "_send", send_then_die)
    with pytest.raises(RuntimeError):
        relay_outbox()
    assert OutboxMessage.objects.using(database_for(PUBLISHER)).filter(
        published_at__isnull=True
    ).count() == 10  # fmt: skip

    monkeypatch.setattr(relay, "_send", real_send)
    assert relay_outbox() == 10
    # At least once: the ten sent before the crash are sent again, none skipped.
    assert len(queued_deliveries(CONSUMER)) == 20


def test_the_relay_query_uses_the_partial_index():
    alias = database_for(PUBLISHER)
    query = (
        OutboxMessage.objects.using(alias)
        .filter(published_at__isnull=True)
        .order_by("created_at")[:200]
    )
    with connections[alias].cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # tiny test tables: force the planner
        try:
            plan = query.explain()
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "outbox_unpublished_idx" in plan


def test_retention_purges_old_published_rows_only(settings):
    from contexts.kernel.retention import purge_event_history

    settings.EVENT_RETENTION_DAYS = 7
    old, recent, unpublished = (ProbeHappened() for _ in range(3))
    for event in (old, recent, unpublished):
        publish_committed(event)
    alias = database_for(PUBLISHER)
    now = timezone.now()
    OutboxMessage.objects.using(alias).filter(pk=old.event_id).update(
        published_at=now - timedelta(days=8)
    )
    OutboxMessage.objects.using(alias).filter(pk=unpublished.event_id).update(published_at=None)

    counts = purge_event_history(now=now)

    assert counts["outbox"] == 1
    remaining = set(OutboxMessage.objects.using(alias).values_list("event_id", flat=True))
    assert remaining == {recent.event_id, unpublished.event_id}


def test_a_worker_runs_the_relay_of_every_database_its_queues_use():
    from contexts.kernel.wakeup import loops_for_queues

    def relays(*queues: str) -> set[str]:
        return {lp.name for lp in loops_for_queues(queues) if lp.name.startswith("kernel.relay.")}

    assert relays("email") == set()
    assert relays("orders") == {f"kernel.relay.{database_for('orders')}"}
    everything = relays(*CONTEXTS)
    assert everything == {f"kernel.relay.{alias}" for alias in relay.database_contexts()}
