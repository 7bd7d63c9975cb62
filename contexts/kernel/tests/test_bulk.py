"""``update_rows`` writes what ``bulk_update`` writes, in one statement; ``update_rows_where``
writes only the rows whose stored state allows it; ``upsert_rows`` inserts or counts;
``insert_rows`` inserts several models' rows in one statement."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connections, router
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contexts.kernel.bulk import insert_rows, update_rows, update_rows_where, upsert_rows
from contexts.kernel.models import OutboxMessage

pytestmark = pytest.mark.django_db(databases="__all__")


def message(**fields) -> OutboxMessage:
    return OutboxMessage(
        **{
            "event_id": uuid.uuid4(),
            "context": "orders",
            "event_name": "orders.Probe",
            "event_version": 1,
            "payload": {"n": 1},
            "correlation_id": "c",
            "occurred_at": timezone.now(),
            **fields,
        }
    )


def outbox_row(**fields) -> OutboxMessage:
    row = message(**fields)
    row.save()
    return row


def one_statement():
    return CaptureQueriesContext(connections[router.db_for_write(OutboxMessage)])


def test_update_rows_writes_each_row_its_own_values_in_one_statement():
    later = timezone.now() + timedelta(minutes=5)
    rows = [outbox_row(unconfirmed={"a.b": "users"}, redrive_at=later) for _ in range(3)]
    untouched = outbox_row(unconfirmed={"x.y": "users"})
    rows[0].unconfirmed, rows[0].redrive_at, rows[0].redrives = {}, None, 3
    rows[1].unconfirmed = {"c.d": "notifications", "quote": 'it\'s "quoted"'}
    rows[2].redrive_at = later + timedelta(seconds=1)

    connection = connections[router.db_for_write(OutboxMessage)]
    with CaptureQueriesContext(connection) as queries:
        matched = update_rows(rows, ["unconfirmed", "redrive_at", "redrives"])

    assert matched == 3
    assert len(queries) == 1
    stored = {row.event_id: row for row in OutboxMessage.objects.all()}
    first, second, third = (stored[row.event_id] for row in rows)
    assert (first.unconfirmed, first.redrive_at, first.redrives) == ({}, None, 3)
    assert second.unconfirmed == {"c.d": "notifications", "quote": 'it\'s "quoted"'}
    assert (second.redrive_at, second.redrives) == (later, 0)
    assert third.redrive_at == later + timedelta(seconds=1)
    assert stored[untouched.event_id].unconfirmed == {"x.y": "users"}


def test_update_rows_matches_only_existing_rows_and_accepts_nothing():
    gone = OutboxMessage(event_id=uuid.uuid4(), redrives=7)
    assert update_rows([gone], ["redrives"]) == 0
    assert update_rows([], ["redrives"]) == 0


def test_update_rows_where_writes_only_the_rows_whose_stored_state_allows_it():
    allowed, refused = outbox_row(context="orders"), outbox_row(context="users")
    OutboxMessage.objects.filter(pk=allowed.pk).update(correlation_id="changed meanwhile")
    for row in (allowed, refused):
        row.redrives, row.context = 5, "catalog"

    with one_statement() as queries:
        changed = update_rows_where(
            [allowed, refused, message()],  # the last one is not stored
            ["redrives", "context"],
            guard="context",
            allowed=lambda row: ["orders"] if row.pk == allowed.pk else ["payments"],
            lock_order="event_id",
        )

    assert len(queries) == 1
    [row] = changed
    assert (row.pk, row.redrives, row.context) == (allowed.pk, 5, "catalog")
    assert row.correlation_id == "changed meanwhile"  # read back as stored
    assert OutboxMessage.objects.get(pk=refused.pk).redrives == 0
    assert update_rows_where([], ["redrives"], guard="context", allowed=lambda row: []) == []


def test_upsert_rows_inserts_new_rows_and_counts_repeats_where_the_condition_holds():
    later = timezone.now() + timedelta(minutes=5)
    counted = outbox_row(context="orders")
    other_context = outbox_row(context="users")
    other_name = outbox_row(context="orders", event_name="orders.Other")
    new = message(redrive_at=later)
    repeats = [
        message(event_id=row.event_id, redrives=1, redrive_at=later)
        for row in (counted, other_context, other_name)
    ]

    with one_statement() as queries:
        stored = upsert_rows(
            [new, *repeats],
            unique="event_id",
            increment=["redrives"],
            refresh=["redrive_at"],
            when_same=["event_name"],
            when={"context": ["orders", "payments"]},
        )

    assert len(queries) == 1
    assert [row.event_id for row in stored] == [new.event_id, *(r.event_id for r in repeats)]
    inserted, first, second, third = stored
    assert (inserted.pk is not None, inserted.redrives, inserted.redrive_at) == (True, 0, later)
    assert (first.pk, first.redrives, first.redrive_at) == (counted.pk, 1, later)
    assert (second.pk, second.redrives, second.redrive_at) == (other_context.pk, 0, None)
    assert (third.pk, third.redrives, third.redrive_at) == (other_name.pk, 0, None)
    assert {row.pk: row.redrives for row in OutboxMessage.objects.all()} == {
        row.pk: row.redrives for row in stored
    }
    assert upsert_rows([], unique="event_id", increment=["redrives"]) == []


def test_insert_rows_writes_every_group_in_one_statement_as_bulk_create_would():
    from contexts.kernel.models import DeadLetter

    alias = router.db_for_write(OutboxMessage)
    messages = [message(), message()]
    letter = DeadLetter(
        event_id=messages[0].event_id,
        handler="probe.handler",
        context="orders",
        event_name="orders.Probe",
        event_version=1,
        envelope={"n": 1},
        error="boom",
        attempts=3,
    )
    with CaptureQueriesContext(connections[alias]) as queries:
        insert_rows([messages, [], [letter]], using=alias)

    assert len(queries.captured_queries) == 1
    assert letter.created_at is not None  # auto_now_add applied, as bulk_create does
    assert not letter._state.adding and letter._state.db == alias
    stored = OutboxMessage.objects.using(alias).filter(event_id__in=[m.event_id for m in messages])
    assert sorted(m.payload["n"] for m in stored) == [1, 1]
    assert DeadLetter.objects.using(alias).get(pk=letter.pk).error == "boom"
