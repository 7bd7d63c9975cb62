"""Background loops in a real worker (contexts/kernel/wakeup.py): woken by NOTIFY,
polled, resilient to database errors, run only by workers consuming their queue."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from django.db import connections

from contexts.kernel.databases import database_for
from contexts.kernel.testing import wait_for
from contexts.kernel.transactions import atomic
from contexts.kernel.wakeup import notify

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PROBE = "contexts.kernel.tests.wakeup_probe"
NAME = "kernel_tests.wakeup_probe"
CONTEXT = "catalog"
CHANNEL = "kernel_tests_wakeup"
PER_PROCESS_NAME = "kernel_tests.wakeup_probe_per_process"
#: Far longer than any wait below: a run within them was woken, not polled.
LONG_POLL = "600"


def runs(directory: Path) -> int:
    path = directory / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


def wake() -> None:
    with atomic(CONTEXT):
        notify(CHANNEL, context=CONTEXT)


def start(start_celery_worker, directory: Path, *, env=None, **options):
    directory.mkdir(exist_ok=True)
    env = {"WAKEUP_PROBE_DIR": str(directory), "ENGINE_POLL_SECONDS": LONG_POLL, **(env or {})}
    return start_celery_worker(include=[PROBE], env=env, **options)


def test_a_loop_runs_at_start_and_is_woken_by_notify_long_before_its_poll(
    start_celery_worker, tmp_path
):
    probe = tmp_path / "probe"
    start(start_celery_worker, probe, env={"ENGINE_BATCH_SIZE": "2"})
    wait_for(lambda: runs(probe) == 1, timeout=10, message="no run at worker start")

    wake()
    wait_for(lambda: runs(probe) == 2, timeout=10, message="NOTIFY did not wake the loop")

    # While a run takes a full batch (2 here) the loop runs again at once; a run that
    # takes less took everything due: 5 units are 2 + 2 + 1, and no empty run after.
    (probe / "work").write_text("5")
    wake()
    wait_for(lambda: runs(probe) == 5, timeout=10)
    assert (probe / "work").read_text() == "0"
    # 4 units are two full batches, then a run finds nothing.
    (probe / "work").write_text("4")
    wake()
    wait_for(lambda: runs(probe) == 8, timeout=10)
    assert (probe / "work").read_text() == "0"

    # A rolled-back transaction notifies nobody.
    with pytest.raises(RuntimeError), atomic(CONTEXT):
        notify(CHANNEL, context=CONTEXT)
        raise RuntimeError("rollback")
    wake()  # committed: one more run, and only one
    wait_for(lambda: runs(probe) == 9, timeout=10)
    assert runs(probe) == 9


def test_a_loop_survives_a_failing_run_and_a_lost_listening_connection(
    start_celery_worker, tmp_path
):
    probe = tmp_path / "probe"
    worker = start(start_celery_worker, probe)
    wait_for(lambda: runs(probe) == 1, timeout=10)

    # A run raising a database error: logged, and the loop runs again after its backoff.
    (probe / "fail").touch()
    wake()
    wait_for(lambda: runs(probe) >= 3, timeout=10, message="the loop did not come back")
    assert "background loop kernel_tests.wakeup_probe failed" in worker.logs()

    # The server ends the listening session: the loop reconnects, runs, and
    # is woken by NOTIFY again.
    before = runs(probe)
    with connections[database_for(CONTEXT)].cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            [f"loop {NAME}"],
        )
        assert cursor.fetchall(), "no listening connection found"
    wait_for(lambda: runs(probe) > before, timeout=15, message="no run after reconnecting")
    wait_for(lambda: listening(), timeout=15)
    before = runs(probe)
    wake()
    wait_for(lambda: runs(probe) > before, timeout=10, message="not woken after reconnecting")
    assert worker.process is not None and worker.process.poll() is None


def listening(name: str = NAME) -> int:
    """How many sessions LISTEN for the loop ``name``."""
    with connections[database_for(CONTEXT)].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [f"loop {name}"],
        )
        return cursor.fetchone()[0]


def per_process_runners(directory: Path) -> set[int]:
    path = directory / "pp-runs"
    return {int(pid) for pid in path.read_text().split()} if path.exists() else set()


def test_a_per_process_loop_runs_in_the_first_pool_processes_and_in_their_replacements(
    start_celery_worker, tmp_path
):
    probe = tmp_path / "probe"
    worker = start(start_celery_worker, probe, concurrency=3, env={"ENGINE_LOOP_PROCESSES": "2"})
    wait_for(lambda: len(per_process_runners(probe)) == 2, timeout=15)
    runners = per_process_runners(probe)
    pool = set(worker.pool_pids())
    assert len(pool) == 3
    assert runners < pool and worker.pid not in runners
    assert "kernel_tests.wakeup_probe_per_process (in pool processes)" in worker.logs()
    wait_for(lambda: listening(PER_PROCESS_NAME) == 2, timeout=10)

    # A runner's process dies: its replacement takes its number, and its loop.
    doomed = min(runners)
    os.kill(doomed, signal.SIGKILL)
    wait_for(
        lambda: len(per_process_runners(probe) - runners) == 1,
        timeout=30,
        message="the replacement process runs no loop",
    )
    (successor,) = per_process_runners(probe) - runners
    assert successor in worker.pool_pids() and doomed not in worker.pool_pids()
    wait_for(lambda: listening(PER_PROCESS_NAME) == 2, timeout=10)


def test_a_worker_not_consuming_the_loops_queue_does_not_run_it(start_celery_worker, tmp_path):
    probe = tmp_path / "probe"
    other_worker = start(start_celery_worker, probe, queues=["other"])
    assert "background loops: none" in other_worker.logs()
    # The session of an earlier test's worker may outlive it by a moment; this
    # worker's own would stay.
    wait_for(lambda: listening() == 0, timeout=10, message="a worker on 'other' listens")
    wake()

    # A worker that consumes catalog's queue runs it (at start, and when woken).
    other = tmp_path / "other"
    catalog_worker = start(start_celery_worker, other, queues=[CONTEXT])
    [started] = [line for line in catalog_worker.logs().splitlines() if "background loops:" in line]
    assert NAME in started  # with the relay of catalog's database
    wait_for(lambda: runs(other) == 1, timeout=10)
    wake()
    wait_for(lambda: runs(other) == 2, timeout=10)
    assert runs(probe) == 0
