"""``update_rows`` writes what ``bulk_update`` writes, in one statement."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connections, router
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contexts.kernel.bulk import update_rows
from contexts.kernel.models import OutboxMessage

pytestmark = pytest.mark.django_db(databases="__all__")


def outbox_row(**fields) -> OutboxMessage:
    return OutboxMessage.objects.create(
        event_id=uuid.uuid4(),
        context="orders",
        event_name="orders.Probe",
        event_version=1,
        payload={"n": 1},
        correlation_id="c",
        occurred_at=timezone.now(),
        **fields,
    )


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
