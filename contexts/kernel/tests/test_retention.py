"""Retention at production volume: committed batches, a time budget, a backlog drained over runs."""

from __future__ import annotations

import itertools
import signal
from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connections

from contexts.kernel import retention, tasks
from contexts.kernel.databases import database_for
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.retention import purge_event_history
from contexts.kernel.testing import purge_broker
from contexts.kernel.tests.helpers import publish_committed, queued_messages
from contexts.kernel.tests.probe import CONSUMER, PUBLISHER, ProbeHappened

pytestmark = pytest.mark.django_db(transaction=True)

OLD_OUTBOX, OLD_INBOX, OLD_DEAD_LETTERS = 500_000, 400_000, 100_000
KEPT = 50  # of each kind of row that must stay


def insert_rows() -> None:
    """A million rows past retention (and a few that must stay), one statement per kind.

    Keys follow the series, so the indexes grow at their right edge and a
    million rows go in within seconds.
    """
    outbox = (
        "INSERT INTO kernel_outboxmessage (event_id, context, event_name, event_version,"
        " payload, correlation_id, occurred_at, created_at, published_at, unconfirmed, redrives)"
        " SELECT {key}, 'catalog', 'kernel_tests.Old', 1, '{{}}'::jsonb, 'c',"
        " now() - '31 days'::interval, now() - '31 days'::interval, {published},"
        " '{{}}'::jsonb, 0"
        " FROM generate_series(1, %s) AS n"
    )
    inbox = (
        "INSERT INTO kernel_inboxmessage (id, event_id, handler, context, event_name,"
        " event_version, envelope, status, attempts, last_error, received_at,"
        " last_attempt_at, next_attempt_at, processed_at)"
        " SELECT {key}, {key}, 'h', 'inventory', 'kernel_tests.Old', 1, '{{}}'::jsonb,"
        " '{status}', 1, '', now() - '31 days'::interval, now() - '31 days'::interval,"
        " NULL, {processed}"
        " FROM generate_series(1, %s) AS n"
    )
    dead = (
        "INSERT INTO kernel_deadletter (id, event_id, handler, context, event_name,"
        " event_version, envelope, error, attempts, created_at, replayed_at)"
        " SELECT {key}, {key}, 'h', 'inventory', 'kernel_tests.Old', 1, '{{}}'::jsonb,"
        " 'e', 5, now() - '31 days'::interval, {replayed}"
        " FROM generate_series(1, %s) AS n"
    )
    offsets = itertools.count(1, 10_000_000)

    def key() -> str:
        return f"lpad(to_hex(n + {next(offsets)}), 32, '0')::uuid"

    old, recent = "now() - '30 days'::interval", "now() - '1 hour'::interval"
    with connections[database_for(PUBLISHER)].cursor() as cursor:
        cursor.execute(outbox.format(key=key(), published=old), [OLD_OUTBOX])
        cursor.execute(outbox.format(key=key(), published=recent), [KEPT])
        cursor.execute(outbox.format(key=key(), published="NULL"), [KEPT])  # unpublished
    with connections[database_for(CONSUMER)].cursor() as cursor:
        for status, processed, rows in [
            ("processed", old, OLD_INBOX),
            ("processed", recent, KEPT),
            ("pending", "NULL", KEPT),
            ("dead", "NULL", KEPT),
        ]:
            sql = inbox.format(key=key(), status=status, processed=processed)
            cursor.execute(sql, [rows])
        cursor.execute(dead.format(key=key(), replayed=old), [OLD_DEAD_LETTERS])
        cursor.execute(dead.format(key=key(), replayed=recent), [KEPT])
        cursor.execute(dead.format(key=key(), replayed="NULL"), [KEPT])  # open: kept


def remaining() -> dict[str, int]:
    publisher, consumer = database_for(PUBLISHER), database_for(CONSUMER)
    return {
        "outbox": OutboxMessage.objects.using(publisher).count(),
        "inbox": InboxMessage.objects.using(consumer).count(),
        "dead_letters": DeadLetter.objects.using(consumer).count(),
    }


@contextmanager
def soft_time_limit(seconds: float):
    """What Celery's soft time limit does to a task: raise in it once the limit passes."""

    def expire(signum, frame):
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.timeout(120)
def test_a_million_old_rows_drain_over_runs_each_within_its_budget(settings):
    settings.EVENT_RETENTION_DAYS = 7
    settings.EVENT_RETENTION_BATCH_SIZE = 20_000
    settings.EVENT_RETENTION_TIME_BUDGET_SECONDS = 0.5
    insert_rows()
    start = remaining()
    kept = {"outbox": 2 * KEPT, "inbox": 3 * KEPT, "dead_letters": 2 * KEPT}
    assert start["outbox"] - kept["outbox"] == OLD_OUTBOX

    runs = []
    while True:
        # Far longer than the budget: a run that ignores its budget is cut by it.
        with soft_time_limit(10):
            result = purge_event_history()
        runs.append(result)
        if len(runs) == 1:
            # The first run stopped on its budget, and what it deleted is committed.
            assert not result["complete"]
            assert sum(remaining().values()) < sum(start.values())
        if result["complete"]:
            break
        # Every run makes progress (at least one batch), so the backlog drains.
        assert result["outbox"] + result["inbox"] + result["dead_letters"] > 0, result
        assert len(runs) < 400, "the backlog does not drain"

    assert remaining() == kept
    # Nothing reported deleted was rolled back (it would be deleted again, and counted twice).
    assert sum(run["outbox"] for run in runs) == OLD_OUTBOX
    assert sum(run["inbox"] for run in runs) == OLD_INBOX
    assert sum(run["dead_letters"] for run in runs) == OLD_DEAD_LETTERS
    assert purge_event_history()["complete"]  # nothing left: one cheap pass


def test_the_purge_queries_use_the_partial_indexes(settings):
    alias = database_for(CONSUMER)
    plans = []
    with connections[alias].cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # tiny test tables: force the planner
        try:
            for table in retention.TABLES:
                plans.append((table.index, table.batch(alias, retention.cutoff()).explain()))
        finally:
            cursor.execute("RESET enable_seqscan")
    for index, plan in plans:
        assert index in plan, plan


def test_a_run_that_ends_on_its_budget_enqueues_the_next(settings):
    settings.EVENT_RETENTION_BATCH_SIZE = 1
    settings.EVENT_RETENTION_TIME_BUDGET_SECONDS = 0  # one deleting batch per run
    events = [ProbeHappened() for _ in range(3)]
    for event in events:
        publish_committed(event)
    alias = database_for(PUBLISHER)
    OutboxMessage.objects.using(alias).update(published_at=retention.cutoff() - timedelta(days=1))
    purge_broker()

    result = tasks.purge_event_history.apply().get()

    assert (result["outbox"], result["complete"]) == (1, False)
    assert OutboxMessage.objects.using(alias).count() == 2
    [continuation] = queued_messages("default")
    assert continuation["task"] == "kernel.purge_event_history"
