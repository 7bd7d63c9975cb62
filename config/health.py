"""Liveness and readiness probes.

Readiness runs ``SELECT 1`` on every database and opens a broker connection;
its answer is kept for ``HEALTH_READY_CACHE_SECONDS`` in the process, so a
flood of probes costs one round of checks per process per interval (a failing
answer is kept too: a struggling dependency is not hammered by its probes).
"""

from __future__ import annotations

import threading
from time import monotonic

from django.conf import settings
from django.db import connections
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery import app as celery_app


class HealthView(APIView):
    """200 while the process serves requests."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Load balancers probe often from one address: never throttle the probes.
    throttle_classes: list = []

    @extend_schema(
        responses=inline_serializer("Health", {"status": serializers.CharField()}),
    )
    def get(self, request):
        return Response({"status": "healthy"})


def _check_databases() -> str:
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    return "ok"


def _check_broker() -> str:
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
    return "ok"


CHECKS = {"database": _check_databases, "broker": _check_broker}

_lock = threading.Lock()
#: ``(checked_at, checks)`` of the last readiness check in this process.
_last: tuple[float, dict[str, str]] | None = None


def _run_checks() -> dict[str, str]:
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            checks[name] = check()
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
    return checks


def readiness_checks() -> dict[str, str]:
    """Each dependency's state (``"ok"`` or ``"error: <type>"``), at most the setting's age."""
    global _last
    ttl = settings.HEALTH_READY_CACHE_SECONDS
    last = _last
    if last is not None and monotonic() - last[0] < ttl:
        return last[1]
    # One thread checks while the others wait for its answer, not beside it.
    with _lock:
        last = _last
        if last is not None and monotonic() - last[0] < ttl:
            return last[1]
        checks = _run_checks()
        _last = (monotonic(), checks)
        return checks


def reset_readiness_cache() -> None:
    """Forget the last readiness answer (tests start from a clean process state)."""
    global _last
    _last = None


class ReadyView(APIView):
    """200 when every dependency answers; 503 naming the one that does not (cached briefly)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Load balancers probe often from one address: never throttle the probes.
    throttle_classes: list = []

    @extend_schema(
        responses={
            200: inline_serializer(
                "Readiness",
                {"status": serializers.CharField(), "checks": serializers.DictField()},
            ),
            503: inline_serializer(
                "NotReady",
                {"status": serializers.CharField(), "checks": serializers.DictField()},
            ),
        },
    )
    def get(self, request):
        checks = readiness_checks()
        ready = all(value == "ok" for value in checks.values())
        return Response(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status=200 if ready else 503,
        )
