"""Probe events and handlers for the kernel's tests (the worker imports this module).

``ProbeHappened`` is published by "catalog" and handled by "inventory", which in
split mode are two databases. The handler's behaviour is chosen by the event:

- ``ok``: record one effect row;
- ``fail_while_file``: raise while the file at ``path`` exists, else record;
- ``crash``: append a line to ``path`` (counting runs) and kill the process;
- ``block_once``: record, then on the first run write the pid to ``path`` and
  block (the test kills the process) until the test gives up;
- ``die_after_commit_once``: record; on the first run the process dies right
  after the handler's transaction commits, before the message is acked;
- ``echo``: record, and publish a ``ProbeEcho`` (its correlation id is inherited);
- ``slow``: record, write the pid to ``path``, and take two seconds to finish.

Effects are rows of a table that the ``probe_effects`` fixture creates in the
consumer's database, outside Django's models, so their count shows how many
times a handler's transaction committed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from uuid import UUID

from django.db import connections

from contexts.kernel.bus import subscribe
from contexts.kernel.correlation import current_correlation_id
from contexts.kernel.databases import database_for
from contexts.kernel.events import DomainEvent
from contexts.kernel.outbox import publish
from contexts.kernel.transactions import on_commit

PUBLISHER = "catalog"
CONSUMER = "inventory"
EFFECT_TABLE = "kernel_test_probe_effect"


@dataclass(frozen=True, kw_only=True)
class ProbeHappened(DomainEvent):
    name: ClassVar[str] = "kernel_tests.ProbeHappened"
    version: ClassVar[int] = 1
    context: ClassVar[str] = PUBLISHER

    mode: str = "ok"
    path: str = ""


@dataclass(frozen=True, kw_only=True)
class ProbeEcho(DomainEvent):
    name: ClassVar[str] = "kernel_tests.ProbeEcho"
    version: ClassVar[int] = 1
    context: ClassVar[str] = CONSUMER

    source_event_id: UUID


def record_effect(event_id: UUID) -> None:
    with connections[database_for(CONSUMER)].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {EFFECT_TABLE} (event_id, correlation_id, pid) VALUES (%s, %s, %s)",
            [str(event_id), current_correlation_id() or "", os.getpid()],
        )


@subscribe(ProbeHappened, context=CONSUMER, id="kernel_tests.handle_probe")
def handle_probe(event: ProbeHappened) -> None:
    if event.mode == "fail_while_file" and Path(event.path).exists():
        raise RuntimeError("probe handler failing on purpose")
    if event.mode == "crash":
        with open(event.path, "a") as runs:
            runs.write(f"{os.getpid()}\n")
        os._exit(1)
    record_effect(event.event_id)
    if event.mode == "echo":
        publish(ProbeEcho(source_event_id=event.event_id))
    marker = Path(event.path) if event.path else None
    if event.mode == "block_once" and marker and not marker.exists():
        marker.write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # killed by the test long before
            time.sleep(0.05)
    if event.mode == "slow" and marker:
        marker.write_text(str(os.getpid()))
        time.sleep(2)  # a long handler: the window for a duplicate delivery
    if event.mode == "die_after_commit_once" and marker and not marker.exists():
        marker.write_text(str(os.getpid()))
        on_commit(CONSUMER, lambda: os._exit(1))
