"""Login brute-force protection: too many failed sign-ins lock an email for a while.

After ``LOGIN_MAX_FAILURES`` failed sign-ins for one email within
``LOGIN_LOCKOUT_SECONDS`` (a fixed window from the first failure), every
sign-in for that email is refused with ``LoginLocked`` (429, ``Retry-After``),
with the right password too, until ``LOGIN_LOCKOUT_SECONDS`` after the failure
that locked it. Unknown emails count like known ones, so the answer tells
nothing about which accounts exist. A successful sign-in clears the count.

Both doors to an account count here, together: ``POST /api/auth/token`` (the
token serializer) and the admin's ``POST /admin/login/`` (``admin_login``), so
failures through either add up and a lock shuts both.

State lives in the Django cache (shared by every web process when
``CACHE_URL`` points at Redis; per process with the local-memory default).
The per-IP ``auth`` throttle bounds guesses across many emails.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

from contexts.users.errors import LoginLocked
from contexts.users.models import normalize_email

_PREFIX = "users:login"


def _keys(email: str) -> tuple[str, str]:
    digest = hashlib.sha256(normalize_email(email).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{_PREFIX}:failures:{digest}", f"{_PREFIX}:locked-until:{digest}"


def login_ensure_allowed(*, email: str) -> None:
    """Raise ``LoginLocked`` (with the seconds left) while ``email`` is locked out."""
    _, locked_key = _keys(email)
    locked_until = cache.get(locked_key)
    if locked_until is None:
        return
    remaining = locked_until - time.time()
    if remaining > 0:
        raise LoginLocked(
            "Too many failed sign-ins for this account; try again later.",
            retry_after=math.ceil(remaining),
        )


def login_record_failure(*, email: str) -> int:
    """Count a failed sign-in for ``email``; lock it at the limit. Returns the count."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    failures_key, locked_key = _keys(email)
    cache.add(failures_key, 0, timeout=window)
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # the window ended between add and incr: this failure opens a new one
        cache.set(failures_key, 1, timeout=window)
        failures = 1
    if failures >= settings.LOGIN_MAX_FAILURES:
        cache.set(locked_key, time.time() + window, timeout=window)
        cache.delete(failures_key)
    return failures


def login_record_success(*, email: str) -> None:
    """Forget the failed sign-ins of ``email`` (a lock in force is kept)."""
    failures_key, _ = _keys(email)
    cache.delete(failures_key)


def login_unlock(*, email: str) -> bool:
    """Staff: lift the lock of ``email`` and forget its failed sign-ins at once.

    Returns True when a lock was in force.
    """
    failures_key, locked_key = _keys(email)
    locked_until = cache.get(locked_key)
    cache.delete_many([failures_key, locked_key])
    return locked_until is not None and locked_until > time.time()
