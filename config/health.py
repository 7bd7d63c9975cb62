"""Liveness and readiness probes."""

from __future__ import annotations

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


class ReadyView(APIView):
    """200 when every dependency answers; 503 naming the one that does not."""

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
        checks: dict[str, str] = {}
        for name, check in CHECKS.items():
            try:
                checks[name] = check()
            except Exception as exc:
                checks[name] = f"error: {type(exc).__name__}"
        ready = all(value == "ok" for value in checks.values())
        return Response(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status=200 if ready else 503,
        )
