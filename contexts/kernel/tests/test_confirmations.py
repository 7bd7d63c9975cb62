"""Delivery state at the publisher (confirmations, re-drive) and stable handler ids.

In-process, against the real databases and broker: the worker's code paths
without the worker. ``test_worker_delivery.py`` and ``tests/faults`` prove the
same with real processes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from contexts.kernel import bus
from contexts.kernel.bus import subscribe, unsubscribe
from contexts.kernel.databases import database_for
from contexts.kernel.delivery import (
    DEFERRED,
    DUPLICATE,
    PROCESSED,
    deliver,
    redrive_due_deliveries,
)
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.relay import confirm_deliveries, redrive_unconfirmed
from contexts.kernel.testing import purge_broker
from contexts.kernel.tests.helpers import (
    outbox_row,
    publish_committed,
    queued_deliveries,
    queued_messages,
)
from contexts.kernel.tests.probe import CONSUMER, PUBLISHER, ProbeHappened, record_effect

pytestmark = pytest.mark.django_db(transaction=True)

HANDLER = "kernel_tests.handle_probe"


@pytest.fixture(autouse=True)
def setup(settings, probe_effects):
    purge_broker()
    settings.EVENT_MAX_ATTEMPTS = 3
    settings.EVENT_RETRY_BASE_SECONDS = 1
    settings.EVENT_REDRIVE_SECONDS = 5
    settings.EVENT_REDRIVE_MAX_SECONDS = 30


def inbox(event, handler=HANDLER) -> InboxMessage:
    return InboxMessage.objects.using(database_for(CONSUMER)).get(
        event_id=event.event_id, handler=handler
    )


def confirmations_queued() -> list[list[str]]:
    return [
        pair
        for message in queued_messages(PUBLISHER)
        if message["task"] == f"{PUBLISHER}.confirm_deliveries"
        for pair in message["kwargs"]["confirmations"]
    ]


def test_a_published_row_lists_its_consumers_until_they_confirm(publisher_elsewhere):
    event = ProbeHappened(mode="ok")
    before = timezone.now()
    envelope = publish_committed(event)

    row = outbox_row(event)
    assert row.published_at is not None
    assert row.unconfirmed == {HANDLER: CONSUMER}
    assert before + timedelta(seconds=5) <= row.redrive_at <= timezone.now() + timedelta(seconds=5)

    purge_broker()
    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == PROCESSED
    # The consumer confirms to the publisher's queue (it never writes another deployment's
    # tables).
    assert confirmations_queued() == [[str(event.event_id), HANDLER]]
    assert outbox_row(event).unconfirmed == {HANDLER: CONSUMER}

    assert confirm_deliveries(context=PUBLISHER, confirmations=confirmations_queued()) == 1
    row = outbox_row(event)
    assert (row.unconfirmed, row.redrive_at) == ({}, None)
    # Confirming again (a duplicate confirmation) changes nothing.
    assert (
        confirm_deliveries(context=PUBLISHER, confirmations=[[str(event.event_id), HANDLER]]) == 0
    )


def test_one_confirmation_message_may_confirm_many_events():
    events = [ProbeHappened(mode="ok") for _ in range(3)]
    for event in events:
        publish_committed(event)

    pairs = [[str(event.event_id), HANDLER] for event in events]
    assert confirm_deliveries(context=PUBLISHER, confirmations=pairs) == 3
    assert all(outbox_row(event).unconfirmed == {} for event in events)


@pytest.mark.skipif(
    bool(django_settings.DB_PER_CONTEXT), reason="the consumer has a database of its own"
)
def test_a_publisher_in_the_consumers_database_is_confirmed_there_without_a_message():
    event = ProbeHappened(mode="ok")
    envelope = publish_committed(event)
    purge_broker()

    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == PROCESSED
    assert confirmations_queued() == []
    row = outbox_row(event)
    assert (row.unconfirmed, row.redrive_at) == ({}, None)


def test_a_duplicate_is_confirmed_too(publisher_elsewhere):
    event = ProbeHappened(mode="ok")
    envelope = publish_committed(event)
    deliver(context=CONSUMER, handler=HANDLER, event=envelope)
    purge_broker()

    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == DUPLICATE
    assert confirmations_queued() == [[str(event.event_id), HANDLER]]


def test_the_sweep_re_drives_unconfirmed_deliveries_with_a_growing_wait(probe_effects):
    lost = ProbeHappened(mode="ok")
    confirmed = ProbeHappened(mode="ok")
    envelope = publish_committed(lost)
    publish_committed(confirmed)
    confirm_deliveries(context=PUBLISHER, confirmations=[[str(confirmed.event_id), HANDLER]])
    purge_broker()  # the delivery messages are lost (a killed worker held them)

    assert redrive_unconfirmed() == 0  # not due yet

    database = database_for(PUBLISHER)
    OutboxMessage.objects.using(database).update(redrive_at=timezone.now())
    start = timezone.now()
    assert redrive_unconfirmed() == 1
    [message] = queued_deliveries(CONSUMER)
    assert message["kwargs"] == {"handler": HANDLER, "event": envelope}
    row = outbox_row(lost)
    assert row.redrives == 1
    assert start + timedelta(seconds=10) <= row.redrive_at  # 5 s, then 10 s, 20 s, ... 30 s
    assert outbox_row(confirmed).redrive_at is None

    # The re-driven message is delivered and confirmed: no more re-drives.
    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == PROCESSED
    confirm_deliveries(context=PUBLISHER, confirmations=confirmations_queued())
    assert outbox_row(lost).redrive_at is None
    assert redrive_unconfirmed() == 0
    assert probe_effects.count(lost.event_id) == 1


def test_a_renamed_handler_keeps_its_id_and_its_inbox(probe_effects):
    """Deliver under one function name, rename it keeping the id, redeliver: one effect."""
    event = ProbeHappened(mode="ok")
    envelope = publish_committed(event)

    def first_name(event: ProbeHappened) -> None:
        record_effect(event.event_id)

    def renamed(event: ProbeHappened) -> None:
        record_effect(event.event_id)

    handler_id = "kernel_tests.rename_probe"
    try:
        subscribe(ProbeHappened, context=CONSUMER, id=handler_id)(first_name)
        assert deliver(context=CONSUMER, handler=handler_id, event=envelope) == PROCESSED
        unsubscribe(handler_id)  # the next release ships the function under its new name
        subscribe(ProbeHappened, context=CONSUMER, id=handler_id)(renamed)
        assert bus.subscription(handler_id).handler is renamed

        assert deliver(context=CONSUMER, handler=handler_id, event=envelope) == DUPLICATE
    finally:
        unsubscribe(handler_id)
    assert probe_effects.count(event.event_id) == 1
    assert inbox(event, handler_id).status == InboxMessage.Status.PROCESSED


def test_one_id_cannot_name_two_functions():
    def one(event):
        pass

    def other(event):
        pass

    try:
        subscribe(ProbeHappened, context=CONSUMER, id="kernel_tests.taken")(one)
        with pytest.raises(LookupError, match="already taken"):
            subscribe(ProbeHappened, context=CONSUMER, id="kernel_tests.taken")(other)
    finally:
        unsubscribe("kernel_tests.taken")
    with pytest.raises(ValueError, match=r"context\.name"):
        subscribe(ProbeHappened, context=CONSUMER, id="Not An Id")


def test_an_unknown_handler_is_retried_later_never_dead_lettered(
    probe_effects, settings, publisher_elsewhere
):
    """A rolling deploy: an old worker receives a delivery for a handler only new ones have."""
    event = ProbeHappened(mode="ok")
    envelope = publish_committed(event)
    handler_id = "kernel_tests.added_in_next_release"
    purge_broker()

    for _ in range(settings.EVENT_MAX_ATTEMPTS + 3):
        assert deliver(context=CONSUMER, handler=handler_id, event=envelope) == DEFERRED
    row = inbox(event, handler_id)
    assert row.status == InboxMessage.Status.PENDING
    assert row.attempts == 0
    assert "added_in_next_release" in row.last_error
    assert row.next_attempt_at > timezone.now()
    assert not DeadLetter.objects.using(database_for(CONSUMER)).exists()
    # The consumer owns it now (its inbox retries it): the publisher stops re-driving.
    assert [str(event.event_id), handler_id] in confirmations_queued()

    # A newer worker knows the handler: the consumer's sweep sends it again and it runs once.
    def added(event: ProbeHappened) -> None:
        record_effect(event.event_id)

    try:
        subscribe(ProbeHappened, context=CONSUMER, id=handler_id)(added)
        InboxMessage.objects.using(database_for(CONSUMER)).filter(pk=row.pk).update(
            next_attempt_at=timezone.now()
        )
        purge_broker()
        assert redrive_due_deliveries() == 1
        [message] = queued_deliveries(CONSUMER)
        assert deliver(context=CONSUMER, **message["kwargs"]) == PROCESSED
    finally:
        unsubscribe(handler_id)
    assert probe_effects.count(event.event_id) == 1


def test_the_data_migration_maps_import_paths_to_handler_ids():
    """Rows written before handler ids stored the import path; 0004 renames them."""
    import importlib
    import uuid
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connections

    migration = importlib.import_module("contexts.kernel.migrations.0004_handler_ids")
    alias = database_for("notifications")
    old, new = "contexts.notifications.handlers.welcome_new_user", "notifications.welcome_new_user"
    now = timezone.now()

    def row(event_id, handler):
        return InboxMessage.objects.using(alias).create(
            event_id=event_id, handler=handler, context="notifications",
            event_name="users.UserRegistered", event_version=1, envelope={},
            status=InboxMessage.Status.PROCESSED, attempts=1, received_at=now,
            last_attempt_at=now,
        )  # fmt: skip

    renamed, clash = uuid.uuid4(), uuid.uuid4()
    row(renamed, old)
    row(clash, old)
    row(clash, new)  # a newer worker already delivered it under the id
    DeadLetter.objects.using(alias).create(
        event_id=uuid.uuid4(), handler=old, context="notifications",
        event_name="users.UserRegistered", event_version=1, envelope={}, error="x", attempts=5,
    )  # fmt: skip

    migration.forwards(apps, SimpleNamespace(connection=connections[alias]))

    inbox_rows = InboxMessage.objects.using(alias)
    assert inbox_rows.get(event_id=renamed).handler == new
    assert sorted(inbox_rows.filter(event_id=clash).values_list("handler", flat=True)) == [
        old,
        new,
    ]
    assert DeadLetter.objects.using(alias).get().handler == new


def test_a_delivery_still_waiting_in_its_queue_is_not_re_driven_until_the_queue_drains(
    settings,
):
    settings.EVENT_REDRIVE_MAX_SECONDS = 300
    waiting = ProbeHappened(mode="ok")
    publish_committed(waiting)  # its delivery message waits in the consumer's queue
    database = database_for(PUBLISHER)
    OutboxMessage.objects.using(database).update(redrive_at=timezone.now())

    assert redrive_unconfirmed() == 0  # the queue holds a backlog: nothing sent
    row = outbox_row(waiting)
    assert row.redrives == 0 and row.redrive_at > timezone.now()
    assert len(queued_deliveries(CONSUMER)) == 1

    purge_broker()  # the queue drained, and the delivery never confirmed: it was lost
    OutboxMessage.objects.using(database).update(redrive_at=timezone.now())
    assert redrive_unconfirmed() == 1
    assert outbox_row(waiting).redrives == 1

    # An old row is re-driven even behind a backlog (the wait is bounded).
    publish_committed(ProbeHappened(mode="ok"))  # a backlog again
    OutboxMessage.objects.using(database).filter(pk=waiting.event_id).update(
        redrive_at=timezone.now(), published_at=timezone.now() - timedelta(seconds=301)
    )
    assert redrive_unconfirmed() == 1
