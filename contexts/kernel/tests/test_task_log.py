"""One log line per Celery task run, from a real worker (contexts/kernel/logs.py)."""

from __future__ import annotations

import json

import pytest

from contexts.kernel.relay import deliver_task_name
from contexts.kernel.testing import wait_for
from contexts.kernel.tests.helpers import publish_committed
from contexts.kernel.tests.probe import CONSUMER, ProbeHappened

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TASK_EVENTS = ("task_received", "task_started", "task_succeeded", "task_failed")


def json_lines(text: str) -> list[dict]:
    """The JSON objects among a worker's output lines (Celery's banner is not JSON)."""
    lines = []
    for raw in text.splitlines():
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            lines.append(parsed)
    return lines


def test_a_task_run_writes_one_line_with_name_id_outcome_duration_and_correlation_id(
    start_probe_worker, probe_effects
):
    from contexts.kernel.correlation import reset_correlation_id, set_correlation_id

    worker = start_probe_worker()
    token = set_correlation_id("req-task-log")
    try:
        event = ProbeHappened(mode="ok")
    finally:
        reset_correlation_id(token)
    publish_committed(event)
    wait_for(lambda: probe_effects.count(event.event_id) == 1)

    def task_lines() -> list[dict]:
        return [
            line
            for line in json_lines(worker.logs())
            if line.get("event") in TASK_EVENTS
            and line.get("correlation_id") == "req-task-log"
            and line.get("task") == deliver_task_name(CONSUMER)  # not its confirmation
        ]

    [line] = wait_for(task_lines)
    assert line["event"] == "task_succeeded"
    assert line["task"] == deliver_task_name(CONSUMER)
    assert line["task_id"]
    assert isinstance(line["duration_ms"], int)
    assert line["duration_ms"] >= 0
    # Celery's own "received" / "succeeded in" INFO lines are replaced by this one.
    assert " succeeded in " not in worker.logs()
