"""Request middleware shared by every context's API."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import JsonResponse

from contexts.kernel.correlation import (
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodySizeLimitMiddleware:
    """Answer 413 to a body over DATA_UPLOAD_MAX_MEMORY_SIZE before reading it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse({"detail": f"Request body exceeds {limit} bytes."}, status=413)
        return self.get_response(request)


class CorrelationIdMiddleware:
    """Take X-Request-ID from the request (or make one) and echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        correlation_id = incoming if _VALID_REQUEST_ID.match(incoming) else new_correlation_id()
        request.correlation_id = correlation_id
        token = set_correlation_id(correlation_id)
        try:
            response = self.get_response(request)
        finally:
            reset_correlation_id(token)
        response[REQUEST_ID_HEADER] = correlation_id
        return response
