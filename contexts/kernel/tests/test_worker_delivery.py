"""Delivery through a real Celery worker process: the messaging failures of docs/reliability.md."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from contexts.kernel import relay
from contexts.kernel.databases import database_for
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.relay import relay_outbox, send_deliveries
from contexts.kernel.testing import database_url, wait_for
from contexts.kernel.tests.helpers import outbox_row, publish_committed, queued_messages
from contexts.kernel.tests.probe import CONSUMER, PUBLISHER, ProbeEcho, ProbeHappened

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HANDLER = "kernel_tests.handle_probe"


def inbox(event) -> InboxMessage:
    return InboxMessage.objects.using(database_for(CONSUMER)).get(
        event_id=event.event_id, handler=HANDLER
    )


def test_an_event_is_delivered_once_with_its_correlation_id(start_probe_worker, probe_effects):
    start_probe_worker()
    from contexts.kernel.correlation import reset_correlation_id, set_correlation_id

    token = set_correlation_id("request-42")
    try:
        event = ProbeHappened(mode="echo")
    finally:
        reset_correlation_id(token)
    envelope = publish_committed(event)

    wait_for(lambda: probe_effects.count(event.event_id) == 1)
    [(_, correlation_id, _)] = probe_effects.rows()
    assert correlation_id == "request-42"
    echo = wait_for(
        lambda: (
            OutboxMessage.objects.using(database_for(ProbeEcho.context))
            .filter(event_name=ProbeEcho.name)
            .first()
        )
    )
    assert echo.correlation_id == "request-42"

    # The same message re-enqueued by hand: delivered again, no second effect.
    send_deliveries([((CONSUMER, HANDLER), envelope)])
    wait_for(lambda: inbox(event).attempts == 2)
    assert probe_effects.count(event.event_id) == 1
    assert inbox(event).status == InboxMessage.Status.PROCESSED


def test_a_worker_killed_mid_handler_redelivers_with_one_effect(
    start_probe_worker, probe_effects, tmp_path
):
    """SIGKILL of the pool child after its write, before commit; and after commit."""
    worker = start_probe_worker()
    marker = tmp_path / "blocked.pid"
    blocked = ProbeHappened(mode="block_once", path=str(marker))
    publish_committed(blocked)

    pid = int(wait_for(lambda: marker.exists() and marker.read_text()))
    assert pid in worker.pool_pids()
    os.kill(pid, signal.SIGKILL)

    wait_for(lambda: inbox(blocked).status == InboxMessage.Status.PROCESSED)
    assert probe_effects.count(blocked.event_id) == 1
    assert inbox(blocked).attempts == 2

    # Dies after the handler's transaction committed, before the ack.
    marker2 = tmp_path / "committed.pid"
    committed = ProbeHappened(mode="die_after_commit_once", path=str(marker2))
    publish_committed(committed)
    wait_for(lambda: marker2.exists() and inbox(committed).attempts == 2)
    assert probe_effects.count(committed.event_id) == 1

    # The worker goes on processing.
    after = ProbeHappened()
    publish_committed(after)
    wait_for(lambda: probe_effects.count(after.event_id) == 1)


def test_a_duplicate_delivered_while_the_handler_runs_has_no_second_effect(
    start_probe_worker, probe_effects, tmp_path
):
    """The same message on two workers at once (redelivery while running)."""
    first = start_probe_worker(queues=[CONSUMER])
    second = start_probe_worker(queues=[CONSUMER])
    marker = tmp_path / "running.pid"
    event = ProbeHappened(mode="slow", path=str(marker))
    envelope = publish_committed(event)

    running_pid = int(wait_for(lambda: marker.exists() and marker.read_text()))
    send_deliveries([((CONSUMER, HANDLER), envelope)])

    wait_for(lambda: inbox(event).attempts == 2, timeout=60)
    assert inbox(event).status == InboxMessage.Status.PROCESSED
    assert probe_effects.count(event.event_id) == 1
    assert running_pid in first.pool_pids() + second.pool_pids()


def test_a_handler_that_kills_its_worker_every_time_stops_after_n_deliveries(
    start_probe_worker, probe_effects, tmp_path
):
    """Deliveries are counted in our inbox table, not by the broker."""
    start_probe_worker(env={"EVENT_MAX_ATTEMPTS": "3"})
    runs = tmp_path / "runs"
    crashing = ProbeHappened(mode="crash", path=str(runs))
    publish_committed(crashing)

    letter = wait_for(lambda: DeadLetter.objects.using(database_for(CONSUMER)).first())
    assert letter.attempts == 3
    assert len(runs.read_text().splitlines()) == 3
    assert inbox(crashing).status == InboxMessage.Status.DEAD

    healthy = ProbeHappened()
    publish_committed(healthy)
    wait_for(lambda: probe_effects.count(healthy.event_id) == 1)
    assert len(runs.read_text().splitlines()) == 3  # never ran again


def test_a_failing_handler_is_dead_lettered_and_replayed_once_fixed(
    start_probe_worker, probe_effects, tmp_path
):
    start_probe_worker(
        beat=True,
        env={
            "EVENT_MAX_ATTEMPTS": "3",
            "EVENT_RETRY_BASE_SECONDS": "0.2",
            "EVENT_SWEEP_SECONDS": "0.5",
        },
    )
    failing = tmp_path / "fail"
    failing.touch()
    event = ProbeHappened(mode="fail_while_file", path=str(failing))
    publish_committed(event)

    letter = wait_for(lambda: DeadLetter.objects.using(database_for(CONSUMER)).first())
    assert letter.attempts == 3
    assert "probe handler failing on purpose" in letter.error
    assert probe_effects.count() == 0

    failing.unlink()
    call_command("replay_dead_letters")

    wait_for(lambda: inbox(event).status == InboxMessage.Status.PROCESSED)
    assert probe_effects.count(event.event_id) == 1
    letter.refresh_from_db()
    assert letter.replayed_at is not None


PUBLISH_SCRIPT = """
import django, sys
django.setup()
from contexts.kernel.outbox import publish
from contexts.kernel.transactions import atomic
from contexts.kernel.tests.probe import ProbeHappened
event = ProbeHappened()
with atomic(event.context):
    publish(event)
print(event.event_id)
"""


def test_publishing_succeeds_while_the_broker_is_down_and_the_sweep_delivers_later(
    start_probe_worker, probe_effects
):
    """The event is an outbox row; a relay sends it when the broker is back (here the
    worker's relay loop, which runs when the worker starts; the sweep would too)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",  # nothing listens there
    }
    result = subprocess.run(
        [sys.executable, "-c", PUBLISH_SCRIPT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    event_id = result.stdout.strip().splitlines()[-1]
    row = OutboxMessage.objects.using(database_for(PUBLISHER)).get(pk=event_id)
    assert row.published_at is None

    start_probe_worker(env={"ENGINE_POLL_SECONDS": "600"})  # no NOTIFY reaches it now

    wait_for(lambda: probe_effects.count(event_id) == 1)
    row.refresh_from_db()
    assert row.published_at is not None


def test_two_relays_over_thousands_of_rows_deliver_every_event_with_one_effect(
    start_probe_worker, probe_effects, monkeypatch
):
    """SKIP LOCKED relays in parallel (two here and the worker's relay loop), one of them
    crashing mid-batch (at its first send, with its batch claimed)."""
    total = 2000
    events = [ProbeHappened() for _ in range(total)]
    OutboxMessage.objects.using(database_for(PUBLISHER)).bulk_create(
        OutboxMessage(
            event_id=e.event_id, context=PUBLISHER, event_name=e.name,
            event_version=e.version, payload=e.payload(), correlation_id=e.correlation_id,
            occurred_at=e.occurred_at,
        )
        for e in events
    )  # fmt: skip
    real_send = relay._send
    crashing_sends: list[tuple[object, ...]] = []

    def send(*args):
        if threading.current_thread().name == "relay-crashing":
            if not crashing_sends:
                crashing_sends.append(args)
                raise RuntimeError("relay died mid-batch")
            crashing_sends.append(args)
        real_send(*args)

    monkeypatch.setattr(relay, "_send", send)
    results: dict[str, object] = {}

    def run(name):
        try:
            results[name] = relay_outbox()
        except Exception as exc:
            results[name] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,), name=n) for n in ("relay-crashing", "relay")]
    for thread in threads:
        thread.start()
    start_probe_worker(concurrency=2)
    for thread in threads:
        thread.join(timeout=120)
    assert isinstance(results["relay-crashing"], RuntimeError)
    relay_outbox()  # the crashed relay, restarted

    # It skips the rows the worker's relay loop still holds (SKIP LOCKED): the loop
    # publishes them when its batch commits.
    unpublished = OutboxMessage.objects.using(database_for(PUBLISHER)).filter(
        published_at__isnull=True
    )
    wait_for(lambda: not unpublished.exists(), timeout=60, message="rows left unpublished")
    wait_for(lambda: len(probe_effects.per_event()) == total, timeout=180)
    per_event = probe_effects.per_event()
    assert set(per_event) == {str(e.event_id) for e in events}
    assert set(per_event.values()) == {1}


def test_stopped_worker_leaves_nothing_behind(start_probe_worker):
    """The fixture's worker is a real process, stopped at teardown."""
    worker = start_probe_worker()
    assert worker.pool_pids()
    worker.stop()
    assert worker.process.poll() is not None
    assert Path(worker.log_path).exists()


def test_deliveries_held_by_a_sigkilled_worker_are_re_driven_within_seconds(
    start_probe_worker, probe_effects, tmp_path, settings
):
    """The worker's main process is SIGKILLed while one delivery runs and three more are
    prefetched (received, unacknowledged): Redis would hold them for its visibility timeout
    (300 s) and the inbox would resend the running one after EVENT_STALL_SECONDS (600 s).
    The publisher re-drives every unconfirmed delivery: all four take effect once, within
    seconds of the restart."""
    settings.EVENT_REDRIVE_SECONDS = 2  # the publisher here is the test process
    fast = {"EVENT_REDRIVE_SECONDS": "2", "EVENT_SWEEP_SECONDS": "1"}
    doomed = start_probe_worker(env={**fast, "CELERY_WORKER_PREFETCH_MULTIPLIER": "4"})
    marker = tmp_path / "blocked.pid"
    running = ProbeHappened(mode="block_once", path=str(marker))
    publish_committed(running)
    wait_for(lambda: marker.exists() and marker.read_text())
    prefetched = [ProbeHappened(mode="ok") for _ in range(3)]
    for event in prefetched:
        publish_committed(event)
    wait_for(lambda: not queued_messages(CONSUMER), message="the worker did not prefetch")

    pool = doomed.pool_pids()
    os.kill(doomed.pid, signal.SIGKILL)  # the main process: nobody acks or requeues
    for pid in pool:  # and its pool with it, as when the container dies
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    doomed.process.wait(timeout=10)
    assert probe_effects.count() == 0

    start_probe_worker(beat=True, env=fast)
    events = [running, *prefetched]
    wait_for(
        lambda: all(probe_effects.count(e.event_id) >= 1 for e in events),
        timeout=20,
        message="deliveries held by the killed worker were not recovered within 20 s",
    )
    assert [probe_effects.count(e.event_id) for e in events] == [1, 1, 1, 1]
    for event in events:
        wait_for(lambda event=event: outbox_row(event).unconfirmed == {})


def test_the_workers_relay_loop_sends_a_committed_event_at_once(start_probe_worker, probe_effects):
    """No sweep (no beat), no relay in the test, a 600 s poll: only NOTIFY can wake it."""
    worker = start_probe_worker(env={"ENGINE_POLL_SECONDS": "600"})
    events = [ProbeHappened(mode="ok") for _ in range(3)]
    for event in events:
        publish_committed(event, relay=False)

    wait_for(lambda: all(probe_effects.count(event.event_id) == 1 for event in events), timeout=15)
    assert all(outbox_row(event).published_at for event in events)
    wait_for(lambda: all(outbox_row(event).unconfirmed == {} for event in events), timeout=15)
    assert "failed; it runs again" not in worker.logs()


def test_a_single_delivery_message_of_an_older_deployment_is_still_delivered(
    start_probe_worker, probe_effects
):
    from celery import current_app

    event = ProbeHappened(mode="ok")
    envelope = publish_committed(event, relay=False)
    # Relayed by the older deployment: no relay of this one sends it again.
    OutboxMessage.objects.using(database_for(PUBLISHER)).filter(pk=event.event_id).update(
        published_at=timezone.now()
    )
    start_probe_worker()
    current_app.send_task(
        relay.single_deliver_task_name(CONSUMER),
        kwargs={"handler": HANDLER, "event": envelope},
        queue=CONSUMER,
    )

    wait_for(lambda: probe_effects.count(event.event_id) == 1)
    wait_for(lambda: inbox(event).status == InboxMessage.Status.PROCESSED)
    wait_for(lambda: outbox_row(event).unconfirmed == {})  # confirmed, as before
    assert probe_effects.count(event.event_id) == 1
