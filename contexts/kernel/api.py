"""HTTP plumbing shared by every context's DRF views: errors and pagination."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from contexts.kernel.errors import DomainError

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 100), as API.md lists."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


def exception_handler(exc, context):
    """Map every error to JSON: DomainError by its status, the rest as DRF does."""
    if isinstance(exc, DomainError):
        body = {exc.field: [exc.detail]} if exc.field else {"detail": exc.detail}
        return Response(body, status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=413)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def not_found(request, exception=None):
    """JSON 404 for any path outside the API's routes."""
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    """JSON 500: never a stack trace or SQL in the body."""
    return JsonResponse({"detail": "Internal server error."}, status=500)


def bad_request(request, exception=None):
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception=None):
    return JsonResponse(
        {"detail": "You do not have permission to perform this action."}, status=403
    )
