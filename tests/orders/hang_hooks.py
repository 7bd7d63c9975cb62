"""Imported by a test worker (``include=``) to hold a saga step open until the worker dies.

The first charge made after import captures the money, records the order id in
the marker file named by ``ORDERS_TEST_HANG_MARKER`` and then blocks, as a
worker does while a slow gateway call is in flight. The test then SIGKILLs the
worker's main process; the pool child dies with it (Celery gives its children
``PDEATHSIG``). Only once (the marker is created exclusively), so the worker
that takes over runs every step normally.
"""

from __future__ import annotations

import os
import threading

from contexts.payments import public as payments

_real_charge = payments.charge_for_order
_never = threading.Event()


def _charge_then_hang_once(**kwargs):
    result = _real_charge(**kwargs)
    marker = os.environ.get("ORDERS_TEST_HANG_MARKER")
    if marker:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return result
        os.write(fd, str(kwargs.get("order_id")).encode())
        os.close(fd)
        _never.wait()  # until the worker is killed
    return result


payments.charge_for_order = _charge_then_hang_once
