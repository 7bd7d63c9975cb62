"""Imported by a test worker (``include=``) to make it die mid-saga.

The first charge made after import, once the gateway has captured the money
and before the saga records it, SIGKILLs the worker's pool process: the most
dangerous moment for a double charge. Only once (a marker file named by
``ORDERS_TEST_CRASH_MARKER``), so the worker that resumes the saga survives.
"""

from __future__ import annotations

import os
import signal

from contexts.payments import public as payments

_real_charge = payments.charge_for_order


def _charge_then_die_once(**kwargs):
    result = _real_charge(**kwargs)
    marker = os.environ.get("ORDERS_TEST_CRASH_MARKER")
    if marker:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return result
        os.write(fd, str(kwargs.get("order_id")).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
    return result


payments.charge_for_order = _charge_then_die_once
