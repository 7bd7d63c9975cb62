"""SQL statements per process, for the benchmark's statements-per-order figure.

With ``BENCH_STATEMENT_COUNTS_DIR`` set, every database connection a process
opens gets an execute wrapper that counts statements, and a daemon thread
writes the process's running total to ``<dir>/<pid>`` four times a second.
The benchmark sums the files before and after a phase. Web workers, the Celery
worker's pool children and beat all count, so the sweeps are included.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from django.db.backends.signals import connection_created

_count = 0
_lock = threading.Lock()
_started_in: int | None = None


def _counting_wrapper(execute, sql, params, many, context):
    global _count
    with _lock:
        _count += len(params) if many and params else 1
    return execute(sql, params, many, context)


def _flush_forever(directory: Path) -> None:
    path = directory / str(os.getpid())
    scratch = directory / f".{os.getpid()}"
    while True:
        scratch.write_text(str(_count))
        os.replace(scratch, path)  # a reader never sees a half-written file
        time.sleep(0.25)  # a sampling interval, not synchronisation


def _on_connection_created(sender, connection, **kwargs) -> None:
    global _started_in
    if _counting_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_counting_wrapper)
    if _started_in != os.getpid():  # once per process, also after a fork
        _started_in = os.getpid()
        directory = Path(os.environ["BENCH_STATEMENT_COUNTS_DIR"])
        threading.Thread(target=_flush_forever, args=(directory,), daemon=True).start()


def install() -> None:
    """Count statements in this process when the benchmark asks for it."""
    if os.environ.get("BENCH_STATEMENT_COUNTS_DIR"):
        connection_created.connect(_on_connection_created, dispatch_uid="bench-counters")


def total(directory: Path) -> int:
    """The statements counted so far by every process writing into ``directory``."""
    return sum(int(p.read_text() or 0) for p in directory.iterdir() if p.name.isdigit())
