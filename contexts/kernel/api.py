"""HTTP plumbing shared by every context's DRF views: errors, parsing and pagination.

Every error body is JSON of one shape (documented in the OpenAPI schema by
``contexts.kernel.schema``): ``{"detail": "..."}``, or field errors
``{"<field>": ["..."]}`` for invalid input. A 5xx never carries a stack trace
or SQL, whatever DEBUG says.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import parsers, status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from contexts.kernel.errors import DomainError, Throttled

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 100), as docs/api.md lists.

    A ``page_size`` over 100 is capped and one below 1 (or empty: absent) falls
    back to the default; one that is not an integer at all is a 400. A bad
    ``page`` is DRF's 404.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw:
            try:
                int(raw)
            except ValueError:
                raise ValidationError(
                    {self.page_size_query_param: ["A valid integer is required."]}
                ) from None
        return super().get_page_size(request)

    def get_paginated_response_schema(self, schema):
        """DRF's page envelope, with examples of a one-page list (shown around list examples)."""
        envelope = super().get_paginated_response_schema(schema)
        properties = envelope["properties"]
        properties["count"]["example"] = 1
        properties["next"]["example"] = None
        properties["previous"]["example"] = None
        return envelope


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser; JSON nested too deeply for Python is a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


def exception_handler(exc, context):
    """Map every error to JSON: DomainError by its status, the rest as DRF does.

    Whatever the source, the body is an object: ``{"detail": ...}`` or field
    errors (a bare list of messages from DRF becomes ``{"detail": "..."}``).
    """
    if isinstance(exc, DomainError):
        body = {exc.field: [exc.detail]} if exc.field else {"detail": exc.detail}
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
        return Response(body, status=exc.http_status, headers=headers)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=413)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and not isinstance(response.data, dict):
        messages = response.data if isinstance(response.data, list) else [response.data]
        response.data = {"detail": " ".join(str(message) for message in messages)}
    return response


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
