"""Request throttles: per user, per IP, and a stricter scope for auth endpoints.

Rates come from settings (env ``THROTTLE_*_RATE``); ``API_THROTTLE=0`` turns
every throttle off at run time, for load tests. DRF answers 429 with
``Retry-After``. ``auth_attempt_wait`` applies the ``auth`` scope's per-IP
allowance to sign-ins outside DRF (the admin login), in the same counters.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import (
    AnonRateThrottle,
    ScopedRateThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)


class _Switchable(SimpleRateThrottle):
    def allow_request(self, request, view) -> bool:
        if not settings.API_THROTTLE:
            return True
        return super().allow_request(request, view)


class AnonThrottle(_Switchable, AnonRateThrottle):
    """Anonymous requests, per client IP."""


class UserThrottle(_Switchable, UserRateThrottle):
    """Authenticated requests, per user (anonymous ones fall back to the IP)."""


class AuthThrottle(_Switchable, ScopedRateThrottle):
    """Registration and token endpoints (views set ``throttle_scope = "auth"``), per IP."""

    def get_cache_key(self, request, view):
        if not getattr(view, "throttle_scope", None):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _AuthScopeByIp(_Switchable, SimpleRateThrottle):
    """The ``auth`` scope outside DRF views, keyed exactly like ``AuthThrottle``."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def auth_attempt_wait(request: HttpRequest) -> int | None:
    """Count one sign-in attempt from the client's IP against the ``auth`` allowance.

    Returns ``None`` when the attempt may go ahead, else the whole seconds to wait
    (at least 1). The counters are those of ``POST /api/auth/token`` and the
    registration endpoint: one allowance per IP for every door.
    """
    throttle = _AuthScopeByIp()
    if throttle.allow_request(request, None):
        return None
    return max(1, math.ceil(throttle.wait() or 1))
