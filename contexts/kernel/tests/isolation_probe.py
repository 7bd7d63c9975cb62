"""Imported by a test worker (``--include``): one context's database is unreachable.

With ``TEST_BROKEN_CONTEXT`` and ``TEST_BROKEN_DATABASE_PORT`` in the
environment, that context's alias points at a port where nothing listens, in
shared mode too (the context then has an alias of its own, as in split mode),
so every connection to it fails the way an unreachable database does.

``LateProbe`` is published by the context whose database the sweep visits
last, so a sweep that stops at the broken database never reaches it. The
worker's relay loops are unregistered, so that only the sweep relays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.db import connections

from contexts.kernel.bus import subscribe
from contexts.kernel.databases import CONTEXTS
from contexts.kernel.events import DomainEvent
from contexts.kernel.tests.probe import CONSUMER, record_effect
from contexts.kernel.wakeup import registered_loops, unregister


@dataclass(frozen=True, kw_only=True)
class LateProbe(DomainEvent):
    name: ClassVar[str] = "kernel_tests.LateProbe"
    version: ClassVar[int] = 1
    context: ClassVar[str] = CONTEXTS[-1]


@subscribe(LateProbe, context=CONSUMER, id="kernel_tests.handle_late_probe")
def handle_late_probe(event: LateProbe) -> None:
    record_effect(event.event_id)


def break_database(context: str, port: int) -> None:
    """Point ``context``'s alias at ``127.0.0.1:port`` in this process."""
    broken = {**settings.DATABASES["default"], "HOST": "127.0.0.1", "PORT": str(port), "TEST": {}}
    broken["NAME"] = f"{broken['NAME']}_{context}"
    settings.DATABASES[context] = broken
    configured = connections.configure_settings(
        {"default": settings.DATABASES["default"], context: broken}
    )
    connections.settings[context] = configured[context]


if os.environ.get("TEST_BROKEN_CONTEXT"):
    break_database(os.environ["TEST_BROKEN_CONTEXT"], int(os.environ["TEST_BROKEN_DATABASE_PORT"]))
    for registered in registered_loops():
        if registered.name.startswith("kernel.relay."):
            unregister(registered.name)
