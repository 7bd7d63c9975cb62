"""Background loops woken by the database: the relay and the saga runner run here.

A *loop* is a function ``run(limit: int) -> int`` that claims up to ``limit``
units of due work (``SELECT ... FOR UPDATE SKIP LOCKED``), does them, and
returns how many it did. A context registers one with ``@loop``; every Celery
worker that consumes the context's queue runs it in a thread of its main
process (a worker bootstep), so the three process types stay web, worker and
beat, and several workers simply mean several loops splitting the work.

A loop runs again at once while it finds work, when its channel is notified
(``notify`` inside the transaction that makes work due: PostgreSQL delivers
the ``NOTIFY`` on commit, and not at all on rollback), and at the latest every
``ENGINE_POLL_SECONDS`` (work that became due by the clock: a retry's backoff,
an expired lease, a database without LISTEN/NOTIFY such as SQLite). The beat
sweep stays as the safety net behind every loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections

from contexts.kernel.databases import CONTEXTS, database_for

LoopFunction = Callable[[int], int]


@dataclass(frozen=True)
class Loop:
    #: ``<context>.<name>``: what the loop does, in logs.
    name: str
    #: The context whose queue a worker must consume to run this loop.
    context: str
    #: The PostgreSQL LISTEN channel that wakes it.
    channel: str
    run: LoopFunction


_LOOPS: dict[str, Loop] = {}


def loop(*, name: str, context: str, channel: str) -> Callable[[LoopFunction], LoopFunction]:
    """Register the decorated ``run(limit) -> int`` as a background loop of ``context``."""
    if context not in CONTEXTS:
        raise LookupError(f"unknown context {context!r}")

    def register(func: LoopFunction) -> LoopFunction:
        _LOOPS[name] = Loop(name=name, context=context, channel=channel, run=func)
        return func

    return register


def registered_loops() -> list[Loop]:
    """Every registered loop."""
    return list(_LOOPS.values())


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
