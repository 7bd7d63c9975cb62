"""The base of every internal endpoint (``contexts/<context>/internal_api.py``)."""

from __future__ import annotations

from rest_framework.views import APIView

from contexts.kernel.api import exception_handler
from contexts.kernel.errors import DomainError
from contexts.kernel.remote.auth import IsServiceCaller, ServiceTokenAuthentication


def internal_exception_handler(exc, context):
    """The public API's error bodies, plus ``"error": "<class name>"`` for a domain error,
    which the caller's ``RemoteContext`` raises again as the contract's error of that name."""
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, DomainError):
        response.data = {"detail": exc.detail, "error": type(exc).__name__}
    return response


class InternalView(APIView):
    """An endpoint for other deployments: service token only, never throttled (callers are
    the shop's own processes), errors as JSON naming the contract error."""

    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [IsServiceCaller]
    throttle_classes: list = []

    def get_exception_handler(self):
        return internal_exception_handler
