"""A probe background loop for the wakeup tests (the worker imports this module).

``kernel_tests.wakeup_probe`` belongs to the catalog context and listens on
``kernel_tests_wakeup``. It is steered by files in ``$WAKEUP_PROBE_DIR`` (it
does nothing without that variable, e.g. in the test process):

- every run appends a line to ``runs``;
- while ``work`` holds a number above zero, a run takes up to its limit of
  it and returns how many it took: a full batch makes the loop run again at once;
- a run that finds ``fail`` removes it and raises ``OperationalError`` (a
  database error), once.

``kernel_tests.wakeup_probe_per_process`` (channel ``kernel_tests_wakeup_pp``)
is a ``per_process`` loop: every run appends its process id to ``pp-runs``.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.db import OperationalError

from contexts.kernel.wakeup import loop

NAME = "kernel_tests.wakeup_probe"
CONTEXT = "catalog"
CHANNEL = "kernel_tests_wakeup"
PER_PROCESS_NAME = "kernel_tests.wakeup_probe_per_process"
PER_PROCESS_CHANNEL = "kernel_tests_wakeup_pp"


@loop(name=NAME, context=CONTEXT, channel=CHANNEL)
def run_probe(limit: int) -> int:
    directory = os.environ.get("WAKEUP_PROBE_DIR")
    if not directory:
        return 0
    base = Path(directory)
    with open(base / "runs", "a") as runs:
        runs.write(f"{limit}\n")
    fail = base / "fail"
    if fail.exists():
        fail.unlink()
        raise OperationalError("probe: the database went away")
    work = base / "work"
    left = int(work.read_text() or 0) if work.exists() else 0
    taken = max(0, min(left, limit))
    work.write_text(str(left - taken))
    return taken


@loop(name=PER_PROCESS_NAME, context=CONTEXT, channel=PER_PROCESS_CHANNEL, per_process=True)
def run_per_process_probe(limit: int) -> int:
    directory = os.environ.get("WAKEUP_PROBE_DIR")
    if directory:
        with open(Path(directory) / "pp-runs", "a") as runs:
            runs.write(f"{os.getpid()}\n")
    return 0
