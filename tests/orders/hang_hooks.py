"""Imported by a test worker (``include=``) to hold a saga step open until the worker dies.

The first charge made after import captures the money, records the order id in
the marker file named by ``ORDERS_TEST_HANG_MARKER`` and then blocks, as a
worker does while a slow gateway call is in flight. The test then SIGKILLs the
worker's main process; the pool child dies with it (Celery gives its children
``PDEATHSIG``). Only once, so the worker that takes over runs every step normally.
"""

from __future__ import annotations

import threading

from tests.orders.charge_hooks import after_first_charge

after_first_charge("ORDERS_TEST_HANG_MARKER", threading.Event().wait)  # until the worker is killed
