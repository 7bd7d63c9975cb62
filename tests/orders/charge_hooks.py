"""What the worker hooks share: interrupt the first charge made after import, once.

``crash_hooks`` and ``hang_hooks`` are imported by a test worker (``include=``);
each calls ``after_first_charge``. The charge is made (the gateway captures the
money), then, before the saga records it, ``then()`` runs: the most dangerous
moment for a double charge. Only once across workers: the marker file named by
the environment variable is created exclusively and holds the order id.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from contexts.payments import public as payments


def after_first_charge(marker_variable: str, then: Callable[[], None]) -> None:
    """Wrap ``payments.charge_for_orders`` so the first charge is followed by ``then()``."""
    real_charge = payments.charge_for_orders

    def charge_then_interrupt_once(**kwargs: Any):
        outcomes = real_charge(**kwargs)
        marker = os.environ.get(marker_variable)
        if marker and outcomes and _claim(marker, str(next(iter(outcomes)))):
            then()
        return outcomes

    payments.charge_for_orders = charge_then_interrupt_once  # type: ignore[assignment]  # a test hook


def _claim(marker: str, order_id: str) -> bool:
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, order_id.encode())
    os.close(fd)
    return True
