"""Strict DRF fields: JSON types are taken as they are, never coerced.

DRF turns ``123`` into ``"123"`` for a CharField and ``"5"`` or ``true`` into
``5`` for an IntegerField. The API (docs/api.md) rejects wrong types with 400, so every
context's serializers use these instead.
"""

from __future__ import annotations

from rest_framework import serializers


class _StrictString(serializers.CharField):
    """Mixin for CharField and its subclasses: only JSON strings are accepted."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(_StrictString, serializers.CharField):
    """A JSON string only."""


class StrictEmailField(_StrictString, serializers.EmailField):
    """An email address given as a JSON string."""


class StrictURLField(_StrictString, serializers.URLField):
    """A URL given as a JSON string."""


class StrictChoiceField(serializers.ChoiceField):
    """One of the choices, given as a JSON string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` only."""

    default_error_messages = {"invalid": "Must be a JSON boolean (true or false)."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: strings, floats and booleans are rejected."""

    default_error_messages = {"invalid": "A valid integer is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a JSON string (DRF would accept an integer)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
