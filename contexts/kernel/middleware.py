"""Request middleware shared by every context's API."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import JsonResponse
from rest_framework.views import APIView

from contexts.kernel.correlation import (
    REQUEST_ID_HEADER,
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)

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


class MethodNotAllowedMiddleware:
    """Answer 405 for a method the API view does not have, before authentication.

    DRF authenticates and checks permissions before it looks for the method's
    handler, so an anonymous ``PUT /api/products`` would get 401; the resource
    does not support PUT for anyone, which is what 405 says.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "view_class", None)
        if view_class is None or not issubclass(view_class, APIView):
            return None
        allowed = allowed_methods(view_class)
        if request.method in allowed:
            return None
        response = JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
        response["Allow"] = ", ".join(sorted(allowed))
        return response


def allowed_methods(view_class) -> set[str]:
    methods = {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)}
    if "GET" in methods:
        methods.add("HEAD")
    return methods
