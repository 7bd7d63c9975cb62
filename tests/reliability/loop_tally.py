"""Imported by a test worker (``include=``): tally the work of its background loops.

Every registered loop (the relays, the saga runner) is wrapped so that each
run that did something appends ``<loop name> <units>`` to the file named by
``LOOP_TALLY_FILE``: the loops log nothing per run, and a test of several
workers needs to know that each of them took a share. The test reads the
file; this module is only ever imported by the worker.
"""

from __future__ import annotations

import os
import threading

import contexts.orders.tasks  # noqa: F401  (registers the saga loop before it is wrapped)
from contexts.kernel.wakeup import LoopFunction, loop, registered_loops

_lock = threading.Lock()


def _tallied(name: str, run: LoopFunction) -> LoopFunction:
    path = os.environ.get("LOOP_TALLY_FILE")

    def tallied(limit: int) -> int:
        done = run(limit)
        if done and path:
            with _lock, open(path, "a") as tally:
                tally.write(f"{name} {done}\n")
        return done

    return tallied


for _registered in registered_loops():
    loop(
        name=_registered.name,
        context=_registered.context,
        channel=_registered.channel,
        queues=_registered.queues,
        per_process=_registered.per_process,
    )(_tallied(_registered.name, _registered.run))
