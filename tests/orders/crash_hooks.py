"""Imported by a test worker (``include=``) to make it die mid-saga.

The first charge made after import, once the gateway has captured the money
and before the saga records it, SIGKILLs the worker's pool process. Only once
(a marker file named by ``ORDERS_TEST_CRASH_MARKER``), so the worker that
resumes the saga survives.
"""

from __future__ import annotations

import os
import signal

from tests.orders.charge_hooks import after_first_charge

after_first_charge("ORDERS_TEST_CRASH_MARKER", lambda: os.kill(os.getpid(), signal.SIGKILL))
