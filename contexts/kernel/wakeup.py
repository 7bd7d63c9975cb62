"""Background loops woken by the database: the relay and the saga runner run here.

A *loop* is a function ``run(limit: int) -> int`` that claims up to ``limit``
units of due work (``SELECT ... FOR UPDATE SKIP LOCKED``), does them, and
returns how many it did. A context registers one with ``@loop``; every Celery
worker that consumes the context's queue runs it in a thread of its main
process (the worker bootstep ``WakeupLoops``, registered in
``config/celery.py``), so the three process types stay web, worker and beat,
and several workers simply mean several loops splitting the work. A worker
consuming none of a loop's context's queues (``celery -A config worker -Q
inventory`` for an orders loop) does not run it.

A loop registered with ``per_process=True`` (the saga runner: Python work per
unit, not I/O) runs instead in a thread of each of the first
``ENGINE_LOOP_PROCESSES`` (1) processes of a prefork pool (started on
``worker_process_init``), with an interpreter lock of its own rather than the
one the main process's relay loops and consumer share. With more than one,
they claim side by side as several workers' would: work that comes due while
one runner is busy is taken by another, at the cost of smaller batches. With
a pool that has no processes (``--pool solo`` or ``threads``) it runs in the
main process like any loop.

A loop runs once when its worker starts (a restarted worker resumes at once),
again at once while a run takes a full batch (on SQLite: while it finds
work), when its channel is notified (``notify``
inside the transaction that makes work due: PostgreSQL delivers the
``NOTIFY`` on commit, and not at all on rollback), and at the latest every
``ENGINE_POLL_SECONDS`` (work that became due by the clock: a retry's
backoff, an expired lease, a database without LISTEN/NOTIFY such as SQLite,
which is only polled). Each run is given ``ENGINE_BATCH_SIZE`` as its limit.
The beat sweep stays as the safety net behind every loop.

Each loop has a thread and a dedicated ``LISTEN`` connection (psycopg, with
the connection settings of the context's Django database alias; the loop's own
queries go through Django's connections of that thread, recycled as Django
does after a request, but at most once per poll interval). A database error, in
the run or on the listening connection, is logged; the thread closes its
connections, waits (0.5 s, doubling up to ``_MAX_BACKOFF_SECONDS``), connects
again and runs the loop at once (notifications sent while it was away are
lost, the run catches up with them). On worker shutdown the threads are told
to stop and joined; a run still going then is cut off with the process, its
transaction rolls back and its work is claimed again by the next run.

The prefork pool forks its children from the worker's main process, so a
child replaced later (``--max-tasks-per-child``, a child that died) inherits
these threads' sockets (not the threads). That is harmless with psycopg 3:
a connection garbage-collected in a forked child is not closed there (its
``PGconn`` only calls ``PQfinish`` in the process that opened it), so the
child never ends the parent's session; and Celery's Django fixup closes, in a
new child, only the Django connections of the main thread, never these.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from celery import bootsteps
from celery.signals import worker_process_init, worker_process_shutdown
from django.conf import settings
from django.db import close_old_connections, connections

from contexts.kernel.databases import CONTEXTS, database_for

logger = logging.getLogger(__name__)

LoopFunction = Callable[[int], int]

#: Longest wait before a loop that failed (a database error) connects and runs again.
_MAX_BACKOFF_SECONDS = 10.0
_FIRST_BACKOFF_SECONDS = 0.5


@dataclass(frozen=True)
class Loop:
    #: ``<context>.<name>``: what the loop does, in logs.
    name: str
    #: The context whose queue a worker must consume to run this loop.
    context: str
    #: The PostgreSQL LISTEN channel that wakes it.
    channel: str
    run: LoopFunction
    #: A worker consuming any of these queues runs it (by default, the context's own).
    queues: tuple[str, ...] = ()
    #: Run in every process of a prefork pool rather than once in the main process.
    per_process: bool = False

    def runs_on(self, consumed: set[str]) -> bool:
        return bool(consumed.intersection(self.queues or (self.context,)))


_LOOPS: dict[str, Loop] = {}


def loop(
    *,
    name: str,
    context: str,
    channel: str,
    queues: Iterable[str] = (),
    per_process: bool = False,
) -> Callable[[LoopFunction], LoopFunction]:
    """Register the decorated ``run(limit) -> int`` as a background loop of ``context``.

    Workers consuming ``context``'s queue run it, or with ``queues`` those
    consuming any of them (the relay of a database shared by several contexts);
    with ``per_process`` in each of their pool processes.
    """
    if context not in CONTEXTS:
        raise LookupError(f"unknown context {context!r}")

    def register(func: LoopFunction) -> LoopFunction:
        _LOOPS[name] = Loop(
            name=name,
            context=context,
            channel=channel,
            run=func,
            queues=tuple(queues),
            per_process=per_process,
        )
        return func

    return register


def unregister(name: str) -> None:
    """Forget a registered loop (a test worker that must leave its work to the sweep)."""
    _LOOPS.pop(name, None)


def registered_loops() -> list[Loop]:
    """Every registered loop."""
    return list(_LOOPS.values())


def loops_for_queues(queues: Iterable[str]) -> list[Loop]:
    """The loops a worker consuming ``queues`` runs: those of the contexts whose queue
    (named after the context) it consumes, or naming one of them in ``queues``."""
    consumed = set(queues)
    return [registered for registered in _LOOPS.values() if registered.runs_on(consumed)]


def notify(channel: str, *, context: str) -> None:
    """Wake the loops listening on ``channel`` once ``context``'s transaction commits.

    Cheap (one ``SELECT pg_notify``, no broker message); PostgreSQL folds
    identical notifications of one transaction into one. A no-op on databases
    without LISTEN/NOTIFY: their loops poll.
    """
    connection = connections[database_for(context)]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [channel])


def poll_seconds() -> float:
    """The longest a loop waits for a notification before it runs anyway."""
    return float(settings.ENGINE_POLL_SECONDS)


def loop_processes() -> int:
    """How many pool processes of a worker run each ``per_process`` loop."""
    return max(1, int(settings.ENGINE_LOOP_PROCESSES))


def batch_size() -> int:
    """The ``limit`` each run of a loop is given."""
    return int(settings.ENGINE_BATCH_SIZE)


class LoopThread:
    """Runs one loop in a daemon thread until ``stop()``: LISTEN, wait, run, repeat."""

    def __init__(self, registered: Loop, *, poll: float, limit: int, app: Any = None) -> None:
        self.loop = registered
        self.app = app
        self.poll = poll
        self.limit = limit
        self._stopping = threading.Event()
        self._recycled_at = float("-inf")
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(
            target=self._main, name=f"loop {registered.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to stop: it wakes at once and ends after its current run."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def stop(self, *, timeout: float = 10.0) -> None:
        """``request_stop()``, then wait up to ``timeout`` for the thread to end."""
        self.request_stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("background loop %s did not stop in time", self.loop.name)
            return
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)

    def _main(self) -> None:
        if self.app is not None:
            # Celery's current app is per thread: the loops send with the
            # worker's own app, whatever the process-wide default is.
            self.app.set_current()
        failures = 0
        while not self._stopping.is_set():
            listener = None
            try:
                listener = self._listen()
                self._drain(listener)
                failures = 0
                while self._wait(listener):
                    self._drain(listener)
            except Exception:
                failures += 1
                delay = min(_FIRST_BACKOFF_SECONDS * 2 ** (failures - 1), _MAX_BACKOFF_SECONDS)
                logger.exception(
                    "background loop %s failed; it runs again in %.1f s",
                    self.loop.name,
                    delay,
                    extra={"loop": self.loop.name, "failures": failures},
                )
                self._close(listener)
                listener = None
                self._sleep(delay)
            finally:
                self._close(listener)
        connections.close_all()

    def _listen(self) -> Any:
        """A psycopg connection LISTENing on the loop's channel (None: the database has none)."""
        wrapper = connections[database_for(self.loop.context)]
        if wrapper.vendor != "postgresql":
            return None
        import psycopg
        from psycopg import sql

        params = wrapper.get_connection_params()
        params["application_name"] = f"loop {self.loop.name}"
        listener = psycopg.connect(**params, autocommit=True)
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.loop.channel)))
        return listener

    def _drain(self, listener: Any) -> None:
        """Run the loop until a run takes less than its limit (or the worker stops).

        A run that found less than a full batch took everything due when it
        claimed; what came due since was notified and wakes the next wait at
        once. Without a listener (SQLite) it runs again until a run finds nothing.
        """
        enough = self.limit if listener is not None else 1
        try:
            while not self._stopping.is_set() and self.loop.run(self.limit) >= enough:
                pass
        finally:
            self._recycle_connections()

    def _recycle_connections(self) -> None:
        """At most once per poll interval, as Django does after a request: close this
        thread's connections that are broken or older than ``CONN_MAX_AGE``, and have
        the next query check its connection first (``CONN_HEALTH_CHECKS``). A busy loop
        thus checks its connection once a poll interval rather than once a run; a
        connection that breaks in between fails a run, which reconnects (``_main``)."""
        now = time.monotonic()
        if now - self._recycled_at >= self.poll:
            self._recycled_at = now
            close_old_connections()

    def _wait(self, listener: Any) -> bool:
        """Wait for a notification, the poll interval or ``stop()``; False when stopping."""
        watched = [self._wake_read]
        if listener is not None:
            watched.append(listener.fileno())
        readable, _, _ = select.select(watched, [], [], self.poll)
        if self._stopping.is_set():
            return False
        if listener is not None and listener.fileno() in readable:
            # Consume every notification received so far (several may wake one run).
            # A broken connection raises here and is reconnected by _main.
            for _notification in listener.notifies(timeout=0):
                pass
        return True

    def _sleep(self, seconds: float) -> None:
        select.select([self._wake_read], [], [], seconds)

    @staticmethod
    def _close(listener: Any) -> None:
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.close()
        # Drop this thread's Django connections, broken ones included: the next
        # run connects afresh.
        for connection in connections.all(initialized_only=True):
            with contextlib.suppress(Exception):
                connection.close()


class WakeupLoops(bootsteps.StartStopStep):
    """Worker bootstep: run the registered loops of the queues this worker consumes.

    Started in the worker's main process after the pool (its first children
    are forked without these threads' connections), before the consumer. The
    ``per_process`` loops are started by each pool process itself
    (``start_pool_process_loops``), unless the pool has none.
    """

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.threads: list[LoopThread] = []

    def start(self, parent: Any) -> None:
        queues = list(parent.app.amqp.queues.consume_from)
        in_pool = _has_pool_processes(parent)
        loops = loops_for_queues(queues)
        here = [registered for registered in loops if not (in_pool and registered.per_process)]
        logger.info(
            "background loops: %s",
            ", ".join(_placed(registered, in_pool) for registered in loops) or "none",
            extra={"loops": [registered.name for registered in loops], "queues": queues},
        )
        self.threads = _start(here, parent.app)

    def stop(self, parent: Any) -> None:
        _stop(self.threads)
        self.threads = []

    terminate = stop


def _has_pool_processes(worker: Any) -> bool:
    from celery.concurrency.prefork import TaskPool

    pool_cls = getattr(worker, "pool_cls", None)
    return isinstance(pool_cls, type) and issubclass(pool_cls, TaskPool)


def _placed(registered: Loop, in_pool: bool) -> str:
    if in_pool and registered.per_process:
        return f"{registered.name} (in pool processes)"
    return registered.name


def _start(loops: Iterable[Loop], app: Any) -> list[LoopThread]:
    poll, limit = poll_seconds(), batch_size()
    threads = [LoopThread(registered, poll=poll, limit=limit, app=app) for registered in loops]
    for thread in threads:
        thread.start()
    return threads


def _stop(threads: list[LoopThread]) -> None:
    for thread in threads:
        thread.request_stop()
    for thread in threads:
        thread.stop()


_POOL_PROCESS_THREADS: list[LoopThread] = []


@worker_process_init.connect
def start_pool_process_loops(**kwargs: Any) -> None:
    """In a new prefork pool process: run the ``per_process`` loops of the worker's queues,
    if it is one of the first ``ENGINE_LOOP_PROCESSES`` (a replacement process takes
    the number, so the loops of a process that died run again in its successor)."""
    from billiard.process import current_process
    from celery import current_app

    if getattr(current_process(), "index", 0) >= loop_processes():
        return

    queues = list(current_app.amqp.queues.consume_from)
    loops = [registered for registered in loops_for_queues(queues) if registered.per_process]
    _POOL_PROCESS_THREADS[:] = _start(loops, current_app)


@worker_process_shutdown.connect
def stop_pool_process_loops(**kwargs: Any) -> None:
    """The pool process is exiting: let its loops end their current run (briefly)."""
    _stop(_POOL_PROCESS_THREADS)
    _POOL_PROCESS_THREADS.clear()
