"""Delivery in-process (the worker's code path without the worker): inbox, retries,
dead letters, replay, retention of inbox rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from contexts.kernel import delivery
from contexts.kernel.databases import database_for
from contexts.kernel.delivery import deliver, redrive_due_deliveries
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.testing import purge_broker
from contexts.kernel.tests.helpers import publish_committed, queued_deliveries
from contexts.kernel.tests.probe import CONSUMER, ProbeEcho, ProbeHappened

pytestmark = pytest.mark.django_db(transaction=True)

HANDLER = "kernel_tests.handle_probe"


@pytest.fixture(autouse=True)
def setup(settings, probe_effects):
    purge_broker()
    settings.EVENT_MAX_ATTEMPTS = 3
    settings.EVENT_RETRY_BASE_SECONDS = 1


def inbox(event) -> InboxMessage:
    return InboxMessage.objects.using(database_for(CONSUMER)).get(
        event_id=event.event_id, handler=HANDLER
    )


def count_delivery(envelope) -> None:
    """What a delivery that started and never finished leaves behind: its count."""
    delivery._count_deliveries(CONSUMER, [delivery._Delivery(HANDLER, envelope)])


def dead_letters():
    return DeadLetter.objects.using(database_for(CONSUMER))


def test_a_delivered_event_has_one_effect_however_often_it_arrives(probe_effects):
    event = ProbeHappened()
    envelope = publish_committed(event)

    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == delivery.PROCESSED
    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == delivery.DUPLICATE

    assert probe_effects.count(event.event_id) == 1
    row = inbox(event)
    assert (row.status, row.attempts) == (InboxMessage.Status.PROCESSED, 2)
    assert row.processed_at is not None


def test_the_handler_runs_under_the_events_correlation_id_and_its_events_inherit_it(
    probe_effects,
):
    from contexts.kernel.correlation import reset_correlation_id, set_correlation_id

    token = set_correlation_id("corr-from-request")
    try:
        event = ProbeHappened(mode="echo")
    finally:
        reset_correlation_id(token)
    envelope = publish_committed(event)

    deliver(context=CONSUMER, handler=HANDLER, event=envelope)

    [(_, correlation_id, _)] = probe_effects.rows()
    assert correlation_id == "corr-from-request"
    echo = OutboxMessage.objects.using(database_for(ProbeEcho.context)).get(
        event_name=ProbeEcho.name
    )
    assert echo.correlation_id == "corr-from-request"


def test_a_failing_handler_is_retried_after_a_backoff_then_dead_lettered(tmp_path, probe_effects):
    failing = tmp_path / "fail"
    failing.touch()
    event = ProbeHappened(mode="fail_while_file", path=str(failing))
    envelope = publish_committed(event)

    before = timezone.now()
    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == delivery.RETRY
    row = inbox(event)
    assert row.status == InboxMessage.Status.PENDING
    assert "probe handler failing on purpose" in row.last_error
    assert row.next_attempt_at >= before + timedelta(seconds=1)

    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == delivery.RETRY
    assert inbox(event).next_attempt_at >= before + timedelta(seconds=2)  # doubled
    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == delivery.DEAD

    [letter] = dead_letters()
    assert (letter.event_id, letter.handler, letter.attempts) == (event.event_id, HANDLER, 3)
    assert "probe handler failing on purpose" in letter.error
    assert letter.envelope == envelope
    assert inbox(event).status == InboxMessage.Status.DEAD
    # A late redelivery of a dead-lettered event does nothing.
    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == delivery.DEAD
    assert probe_effects.count() == 0


def test_deliveries_that_never_finished_are_dead_lettered_without_running_again(probe_effects):
    """A worker that died mid-handler N times: the N+1th delivery stops it."""
    event = ProbeHappened()
    envelope = publish_committed(event)
    for _ in range(3):  # what three crashed deliveries leave behind
        count_delivery(envelope)

    assert deliver(context=CONSUMER, handler=HANDLER, event=envelope) == delivery.DEAD

    [letter] = dead_letters()
    assert letter.attempts == 3
    assert "without finishing" in letter.error
    assert probe_effects.count() == 0


def test_the_sweep_resends_due_deliveries_only():
    due, later = ProbeHappened(), ProbeHappened()
    for event in (due, later):
        count_delivery(publish_committed(event))
    purge_broker()
    alias = database_for(CONSUMER)
    InboxMessage.objects.using(alias).filter(event_id=due.event_id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    assert redrive_due_deliveries() == 1

    [message] = queued_deliveries(CONSUMER)
    assert message["kwargs"]["event"]["event_id"] == str(due.event_id)
    assert inbox(due).next_attempt_at > timezone.now()  # not resent by the next sweep
    assert redrive_due_deliveries() == 0


def test_replaying_a_dead_letter_delivers_it_again_once_fixed(tmp_path, probe_effects):
    failing = tmp_path / "fail"
    failing.touch()
    event = ProbeHappened(mode="fail_while_file", path=str(failing))
    envelope = publish_committed(event)
    for _ in range(3):
        deliver(context=CONSUMER, handler=HANDLER, event=envelope)
    [letter] = dead_letters()
    failing.unlink()
    purge_broker()

    call_command("replay_dead_letters", "--id", str(letter.id))

    letter.refresh_from_db()
    assert letter.replayed_at is not None
    row = inbox(event)
    assert (row.status, row.attempts) == (InboxMessage.Status.PENDING, 0)
    [message] = queued_deliveries(CONSUMER)  # sent at once, on commit
    assert deliver(**{"context": CONSUMER, **message["kwargs"]}) == delivery.PROCESSED
    assert probe_effects.count(event.event_id) == 1
    call_command("replay_dead_letters")  # nothing left open
    assert dead_letters().filter(replayed_at__isnull=True).count() == 0


def test_retention_purges_old_processed_inbox_rows_and_keeps_open_dead_letters(settings):
    from contexts.kernel.retention import purge_event_history

    old, recent = ProbeHappened(), ProbeHappened()
    for event in (old, recent):
        deliver(context=CONSUMER, handler=HANDLER, event=publish_committed(event))
    alias = database_for(CONSUMER)
    long_ago = timezone.now() - timedelta(days=30)
    InboxMessage.objects.using(alias).filter(event_id=old.event_id).update(processed_at=long_ago)
    DeadLetter.objects.using(alias).create(
        event_id=old.event_id, handler="h", context=CONSUMER, event_name="x",
        event_version=1, envelope={}, error="e", attempts=5,
    )  # fmt: skip
    DeadLetter.objects.using(alias).update(created_at=long_ago)

    counts = purge_event_history()

    assert counts["inbox"] == 1
    assert set(InboxMessage.objects.using(alias).values_list("event_id", flat=True)) == {
        recent.event_id
    }
    assert DeadLetter.objects.using(alias).count() == 1  # open: kept for a human


def test_a_batch_isolates_a_failing_handler_and_confirms_everything_in_one_message(
    tmp_path, probe_effects, publisher_elsewhere
):
    from contexts.kernel.tests.helpers import queued_messages
    from contexts.kernel.tests.probe import PUBLISHER

    failing = tmp_path / "fail"
    failing.touch()
    first, broken, last = (
        ProbeHappened(),
        ProbeHappened(mode="fail_while_file", path=str(failing)),
        ProbeHappened(),
    )
    envelopes = [publish_committed(event) for event in (first, broken, last)]
    purge_broker()

    outcomes = delivery.deliver_batch(
        context=CONSUMER, deliveries=[{"handler": HANDLER, "event": e} for e in envelopes]
    )

    assert outcomes == [delivery.PROCESSED, delivery.RETRY, delivery.PROCESSED]
    assert [probe_effects.count(e.event_id) for e in (first, broken, last)] == [1, 0, 1]
    row = inbox(broken)
    assert (row.status, row.attempts) == (InboxMessage.Status.PENDING, 1)
    assert row.next_attempt_at > timezone.now() and "fail" in row.last_error
    [confirmation] = queued_messages(PUBLISHER)
    assert sorted(confirmation["kwargs"]["confirmations"]) == sorted(
        [str(e.event_id), HANDLER] for e in (first, broken, last)
    )

    # The same batch again: two duplicates, and the fixed handler runs once.
    failing.unlink()
    outcomes = delivery.deliver_batch(
        context=CONSUMER, deliveries=[{"handler": HANDLER, "event": e} for e in envelopes]
    )
    assert outcomes == [delivery.DUPLICATE, delivery.PROCESSED, delivery.DUPLICATE]
    assert [probe_effects.count(e.event_id) for e in (first, broken, last)] == [1, 1, 1]


def test_a_batchs_inbox_statements_do_not_grow_with_its_size(probe_effects):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    def inbox_statements(size: int) -> int:
        envelopes = [publish_committed(ProbeHappened()) for _ in range(size)]
        deliveries = [{"handler": HANDLER, "event": e} for e in envelopes]
        with CaptureQueriesContext(connections[database_for(CONSUMER)]) as queries:
            assert set(delivery.deliver_batch(context=CONSUMER, deliveries=deliveries)) == {
                delivery.PROCESSED
            }
        return sum("kernel_inboxmessage" in q["sql"] for q in queries.captured_queries)

    # Count (one INSERT ... ON CONFLICT), lock and claim: three statements for any size.
    assert inbox_statements(2) == inbox_statements(20) == 3
