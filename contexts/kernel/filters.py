"""Query-string filters shared by the contexts' list endpoints (django-filter).

A context's ``filters.py`` declares a ``FilterSet`` that parses and validates
the query string; its ``filter_queryset`` hands the cleaned values to one of
the context's selectors, which owns the query. DRF's ``DjangoFilterBackend``
turns an invalid value into a 400 with field errors (``{"status": ["..."]}``),
the API's usual shape, and drf-spectacular documents every filter as a query
parameter of the operation.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django_filters import CharFilter, Filter
from drf_spectacular.utils import extend_schema_field

# What ``DateOrDateTimeField`` accepts: ``YYYY-MM-DD``, optionally followed by
# ``THH:MM[:SS[.ffffff]]`` and a ``Z`` or ``±HH:MM`` offset. The same pattern is
# published in the schema, so a client (or a fuzzer) knows exactly what passes.
DATE_OR_DATETIME_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$"
)
_DATE_OR_DATETIME = re.compile(DATE_OR_DATETIME_PATTERN, re.ASCII)


class DateOrDateTimeField(forms.Field):
    """An ISO-8601 date or date-time, as an aware UTC datetime.

    A date alone means 00:00 UTC of that day; a date-time without an offset is
    UTC too. Anything else, an impossible date (``2026-02-30``) included, is
    invalid.
    """

    default_error_messages = {
        "invalid": "Enter an ISO-8601 date (YYYY-MM-DD) or date-time "
        "(YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]).",
    }

    def to_python(self, value: str | None) -> datetime | None:
        """The parsed instant in UTC, or None for an empty value."""
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or not _DATE_OR_DATETIME.fullmatch(value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            if "T" not in value:
                return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            # An impossible date or time, or an offset that moves it out of range.
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class DecimalStringField(forms.DecimalField):
    """A non-negative decimal written plainly (``12`` or ``12.50``), nothing else.

    Django's DecimalField also takes ``1e3``, ``+5``, `` 5`` or ``1_000``; the
    published pattern does not, and the field agrees with what it publishes.
    """

    def __init__(self, *, max_digits: int, decimal_places: int, **kwargs: Any) -> None:
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)
        self.pattern = decimal_pattern(max_digits=max_digits, decimal_places=decimal_places)
        self._regex = re.compile(self.pattern, re.ASCII)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # the stubs keep IntegerField's return type
        """The decimal, or None for an empty value."""
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or not self._regex.fullmatch(value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


def decimal_pattern(*, max_digits: int, decimal_places: int) -> str:
    """The regular expression of a ``DecimalStringField`` with these bounds."""
    whole = max_digits - decimal_places
    return rf"^\d{{1,{whole}}}(\.\d{{1,{decimal_places}}})?$"


class DateOrDateTimeFilter(Filter):
    """A filter whose value is a ``DateOrDateTimeField``."""

    field_class = DateOrDateTimeField


class DecimalStringFilter(Filter):
    """A filter whose value is a ``DecimalStringField``."""

    field_class = DecimalStringField


def date_or_datetime_filter(*, help_text: str) -> Filter:
    """A filter on an ISO-8601 date or date-time, documented with its pattern."""
    documented = extend_schema_field(
        {
            "type": "string",
            "pattern": DATE_OR_DATETIME_PATTERN,
            "example": "2026-01-31T12:00:00Z",
            "description": help_text,
        }
    )
    return documented(DateOrDateTimeFilter(help_text=help_text))


def decimal_filter(*, max_digits: int, decimal_places: int, help_text: str) -> Filter:
    """A filter on a non-negative decimal (a ``DecimalStringField``), documented as a string."""
    documented = extend_schema_field(
        {
            "type": "string",
            "format": "decimal",
            "pattern": decimal_pattern(max_digits=max_digits, decimal_places=decimal_places),
            "example": "10.00",
            "description": help_text,
        }
    )
    return documented(
        DecimalStringFilter(
            max_digits=max_digits,
            decimal_places=decimal_places,
            help_text=help_text,
        )
    )


def string_filter(*, max_length: int, help_text: str) -> Filter:
    """A free-text filter of at most ``max_length`` characters, documented with that bound."""
    documented = extend_schema_field(
        {"type": "string", "maxLength": max_length, "description": help_text}
    )
    return documented(CharFilter(max_length=max_length, help_text=help_text))
