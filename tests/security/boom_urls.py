"""Test-only URLs: the app's own routes plus views that fail on purpose (forced 500s)."""

from __future__ import annotations

from django.db import connections
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as app_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

SECRET = "secret-internals-/srv/app/config.py:42"


class ApiBoom(APIView):
    """A DRF view raising an unexpected exception."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get(self, request):
        raise RuntimeError(SECRET)


class ApiBadSql(APIView):
    """A DRF view whose query fails in the database (the error text quotes the SQL)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get(self, request):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT secret_column FROM no_such_table_for_tests")


def plain_boom(request):
    """A plain Django view raising."""
    raise ValueError(SECRET)


urlpatterns = [
    path("test-only/api-boom", ApiBoom.as_view()),
    path("test-only/api-bad-sql", ApiBadSql.as_view()),
    path("test-only/plain-boom", plain_boom),
    *app_urlpatterns,
]
