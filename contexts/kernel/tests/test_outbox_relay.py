"""Publishing and relaying, without a worker: what reaches the outbox and the broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from contexts.kernel import relay
from contexts.kernel.correlation import reset_correlation_id, set_correlation_id
from contexts.kernel.databases import CONTEXTS, database_for
from contexts.kernel.models import OutboxMessage
from contexts.kernel.outbox import PublishOutsideTransaction, publish
from contexts.kernel.relay import relay_outbox
from contexts.kernel.testing import purge_broker
from contexts.kernel.tests.helpers import outbox_row, publish_committed, queued_messages
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


def test_commit_relays_one_message_to_the_consuming_contexts_queue():
    token = set_correlation_id("req-123")
    try:
        event = ProbeHappened(mode="ok")
        with atomic(PUBLISHER):
            publish(event)
    finally:
        reset_correlation_id(token)

    assert outbox_row(event).published_at is not None
    [message] = queued_messages(CONSUMER)
    assert message["task"] == f"{CONSUMER}.deliver_event"
    assert message["kwargs"]["handler"] == "kernel_tests.handle_probe"
    assert message["kwargs"]["event"]["event_id"] == str(event.event_id)
    assert message["kwargs"]["event"]["correlation_id"] == "req-123"
    assert message["headers"]["x_correlation_id"] == "req-123"


def test_one_transaction_publishing_several_events_relays_them_all():
    events = [ProbeHappened() for _ in range(3)]
    with atomic(PUBLISHER):
        for event in events:
            publish(event)

    assert all(outbox_row(event).published_at for event in events)
    ids = {m["kwargs"]["event"]["event_id"] for m in queued_messages(CONSUMER)}
    assert ids == {str(event.event_id) for event in events}


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


def test_the_sweep_relays_rows_the_on_commit_relay_left_behind(settings):
    settings.EVENT_RELAY_BATCH_SIZE = 7
    rows = _unpublished_rows(20)

    assert relay_outbox() == 20

    assert not OutboxMessage.objects.using(database_for(PUBLISHER)).filter(
        published_at__isnull=True
    )
    ids = [m["kwargs"]["event"]["event_id"] for m in queued_messages(CONSUMER)]
    assert sorted(ids) == sorted(str(row.event_id) for row in rows)
    assert relay_outbox() == 0


def test_a_relay_crashing_mid_batch_leaves_its_rows_for_the_next_run(settings, monkeypatch):
    settings.EVENT_RELAY_BATCH_SIZE = 10
    _unpublished_rows(10)
    real_send = relay._send
    sent: list[tuple[object, ...]] = []

    def crash_after_four(*args):
        if len(sent) == 4:
            raise RuntimeError("relay process died")
        sent.append(args)
        real_send(*args)

    monkeypatch.setattr(relay, "_send", crash_after_four)
    with pytest.raises(RuntimeError):
        relay_outbox()
    assert OutboxMessage.objects.using(database_for(PUBLISHER)).filter(
        published_at__isnull=True
    ).count() == 10  # fmt: skip

    monkeypatch.setattr(relay, "_send", real_send)
    assert relay_outbox() == 10
    # At least once: the four sent before the crash are sent again, none skipped.
    assert len(queued_messages(CONSUMER)) == 14


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
