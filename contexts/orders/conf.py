"""The orders context's knobs, read from Django settings (set from the environment).

Read at call time, so tests can override them with the ``settings`` fixture.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def payment_max_attempts() -> int:
    """Charge attempts before a gateway that keeps failing cancels the order (PAYMENT_FAILED)."""
    return max(1, int(settings.ORDERS_PAYMENT_MAX_ATTEMPTS))


def step_max_attempts() -> int:
    """Attempts of the stock reservation before the order is given up (OUT_OF_STOCK)."""
    return max(1, int(settings.ORDERS_SAGA_MAX_ATTEMPTS))


def compensation_max_attempts() -> int:
    """Attempts of a step after the payment or of a compensation before NEEDS_ATTENTION."""
    return max(1, int(settings.ORDERS_SAGA_COMPENSATION_MAX_ATTEMPTS))


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff before attempt ``attempt + 1`` (capped)."""
    base = float(settings.ORDERS_SAGA_RETRY_BASE_SECONDS)
    cap = float(settings.ORDERS_SAGA_RETRY_MAX_SECONDS)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


def lease() -> timedelta:
    """How long a claim or a heartbeat holds a saga step; a dead worker's step is due after it.

    The runner's heartbeat renews it every third of it, so it never ends while
    the runner lives; a floor of one second leaves the heartbeat room to run.
    """
    return timedelta(seconds=max(1.0, float(settings.ORDERS_SAGA_LEASE_SECONDS)))


def step_deadline() -> timedelta:
    """How long a step before the pivot (reserve, charge) may take before it compensates."""
    return timedelta(seconds=float(settings.ORDERS_SAGA_STEP_DEADLINE_SECONDS))


def sweep_grace() -> timedelta:
    """How long a saga may be overdue (the loop missed it) before the sweep runs it."""
    return timedelta(seconds=float(settings.ORDERS_SAGA_SWEEP_GRACE_SECONDS))


def idempotency_key_ttl() -> timedelta:
    """How long an Idempotency-Key is remembered."""
    return timedelta(hours=float(settings.ORDERS_IDEMPOTENCY_KEY_TTL_HOURS))
