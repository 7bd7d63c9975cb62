"""Request throttles: per user, per IP, and a stricter scope for auth endpoints.

Rates come from settings (env ``THROTTLE_*_RATE``); ``API_THROTTLE=0`` turns
every throttle off at run time, for load tests. DRF answers 429 with
``Retry-After``.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle


class _Switchable:
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
