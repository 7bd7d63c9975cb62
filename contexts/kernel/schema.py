"""OpenAPI generation: every operation documents the error responses it can give.

The error shape is one for the whole API (``contexts.kernel.api``): the
``Error`` component, ``{"detail": "..."}``, and for 400 the ``ValidationError``
component, ``{"detail": "..."}`` or field errors ``{"<field>": ["..."]}``.

A view documents its own business statuses (403, 409, 422, ...) with
``extend_schema(responses=...)``; this schema class adds the statuses that the
shared plumbing gives, where they apply, without overriding what a view says:

- 400 when the operation takes a body or query/header parameters (a
  ``page_size`` that is not an integer too);
- 401 when the view authenticates (an invalid or expired bearer token is a 401
  even where anonymous access is allowed);
- 404 when the path has parameters (unknown ids) or the list is paginated
  (an out-of-range ``?page=``);
- 413 and 415 when the operation takes a body (over 1 MB; not JSON);
- 429 with ``Retry-After`` when the view is throttled;
- 500 everywhere: the body of an unexpected failure (never a stack trace).

An error response a view documents without a body gets the matching component,
and examples: the view's own for that status (``OpenApiExample`` with
``status_codes``), else the generic ones of ``_GENERIC_EXAMPLES``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

ERROR_COMPONENT = "Error"
VALIDATION_ERROR_COMPONENT = "ValidationError"

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error but invalid input: a human-readable `detail`.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": 'Invalid input: `{"detail": "..."}`, or field errors '
    '`{"<field>": ["..."]}` (nested for nested fields and list items).',
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "object"}]}},
            {"type": "object"},
        ],
        "description": "The messages for one field (or, nested, for its parts).",
    },
}

_DESCRIPTIONS = {
    "400": "Invalid input: malformed JSON, missing or mistyped fields, broken rules.",
    "401": "Not authenticated: no, an invalid or an expired `Authorization: Bearer` token.",
    "403": "Authenticated but not allowed.",
    "404": "Not found (also another user's private resource).",
    "405": "Method not allowed.",
    "409": "Conflict with the current state.",
    "413": "Request body over 1 MB.",
    "415": "The body is not JSON (`Content-Type: application/json`).",
    "422": "Unprocessable request.",
    "429": "Throttled: too many requests; retry after `Retry-After` seconds.",
    "500": "Unexpected server error; the body never carries internals.",
}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# What a client sees for each shared error status, unless the view documents its
# own examples for that status (``OpenApiExample(status_codes=[...])``).
_GENERIC_EXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "400": [
        ("Field errors", {"quantity": ["A valid integer is required."]}),
        ("Malformed JSON", {"detail": "JSON parse error - Expecting value: line 1 column 1"}),
    ],
    "401": [("Not authenticated", {"detail": "Authentication credentials were not provided."})],
    "403": [("Not allowed", {"detail": "You do not have permission to perform this action."})],
    "404": [("Not found", {"detail": "Not found."})],
    "405": [("Method not allowed", {"detail": 'Method "PUT" not allowed.'})],
    "409": [("Conflict", {"detail": "Conflict with the current state."})],
    "413": [("Too large", {"detail": "Request body too large."})],
    "415": [("Not JSON", {"detail": 'Unsupported media type "text/plain" in request.'})],
    "422": [("Unprocessable", {"detail": "Unprocessable request."})],
    "429": [("Throttled", {"detail": "Request was throttled. Expected available in 12 seconds."})],
    "500": [("Unexpected", {"detail": "Internal server error."})],
}


def _generic_examples(code: str) -> dict[str, dict[str, Any]]:
    """The OpenAPI ``examples`` map of a shared error status (empty if it has none)."""
    return {
        summary.title().replace(" ", ""): {"summary": summary, "value": value}
        for summary, value in _GENERIC_EXAMPLES.get(code, [])
    }


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema plus the error responses described above.

    It also documents the bounds of nested lists (``many=True``), and PATCH
    bodies as DRF validates them: a partial update is
    partial all the way down (DRF skips missing fields of nested serializers
    when the root is partial), so nested request components of a PATCH have no
    required fields either, under their own ``Patched...`` names.
    """

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if self._patch_request(direction):
            schema.pop("required", None)
        return schema

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False) -> str:
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        if self._patch_request(direction) and not name.startswith("Patched"):
            name = f"Patched{name}"
        return name

    def _insert_field_validators(self, field, schema) -> None:
        super()._insert_field_validators(field, schema)
        # A nested ``many=True`` serializer's bounds (drf-spectacular maps them for
        # ListField only): ``allow_empty=False``, ``min_length``, ``max_length``.
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            # The stubs lack ListSerializer's min_length and max_length (DRF 3.15+).
            minimum = field.min_length or (0 if field.allow_empty else 1)  # type: ignore[attr-defined]
            if minimum:
                schema.setdefault("minItems", minimum)
            if field.max_length is not None:  # type: ignore[attr-defined]
                schema.setdefault("maxItems", field.max_length)  # type: ignore[attr-defined]

    def _patch_request(self, direction) -> bool:
        return self.method == "PATCH" and direction == "request"

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_statuses():
            responses.setdefault(code, {"description": _DESCRIPTIONS[code]})
        for code, response in responses.items():
            if code.isdigit() and int(code) >= 400:
                self._fill_error_response(code, response)
        return dict(sorted(responses.items()))

    def _error_statuses(self) -> list[str]:
        has_body = self.method in _BODY_METHODS and self.get_request_serializer() is not None
        parameters = [
            parameter
            for parameter in (self._get_parameters() or [])
            if parameter.get("in") in {"query", "header"}
        ]
        codes = ["500"]
        if has_body or parameters:
            codes.append("400")
        if self.view.get_authenticators():
            codes.append("401")
        if "{" in self.path or (self.method == "GET" and self._paginated()):
            codes.append("404")
        if has_body:
            codes += ["413", "415"]
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _paginated(self) -> bool:
        return self._is_list_view() and self._get_paginator() is not None

    def _fill_error_response(self, code: str, response: dict[str, Any]) -> None:
        response.setdefault("description", _DESCRIPTIONS.get(code, "Error."))
        if not response.get("content"):
            component = self._error_component(code == "400")
            media: dict[str, Any] = {"schema": component.ref}
            examples = self._get_examples(None, "response", "application/json", code)
            examples = examples or _generic_examples(code)
            if examples:
                media["examples"] = examples
            response["content"] = {"application/json": media}
        if code == "429":
            response.setdefault("headers", {})["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before trying again.",
            }

    def _error_component(self, validation: bool) -> ResolvedComponent:
        name, schema = (
            (VALIDATION_ERROR_COMPONENT, _VALIDATION_ERROR_SCHEMA)
            if validation
            else (ERROR_COMPONENT, _ERROR_SCHEMA)
        )
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        self.registry.register_on_missing(component)
        return component
