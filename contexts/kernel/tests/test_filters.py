"""The kernel's filter fields take exactly what their published patterns say."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django import forms
from hypothesis import given, settings
from hypothesis import strategies as st

from contexts.kernel.filters import (
    DATE_OR_DATETIME_PATTERN,
    DateOrDateTimeField,
    DecimalStringField,
    decimal_pattern,
)

_BOUNDED = settings(max_examples=200, derandomize=True, database=None, deadline=None)


def decimal_field() -> DecimalStringField:
    return DecimalStringField(max_digits=12, decimal_places=2, required=False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12:30", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
        ("2026-01-31T12:30:15.5Z", datetime(2026, 1, 31, 12, 30, 15, 500000, tzinfo=UTC)),
        ("2026-01-31T00:30:00+01:00", datetime(2026, 1, 30, 23, 30, tzinfo=UTC)),
        ("", None),
    ],
)
def test_dates_and_date_times_become_utc_instants(raw, expected):
    assert DateOrDateTimeField(required=False).clean(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [("10", "10"), ("0.5", "0.5"), ("12.50", "12.50")])
def test_plain_decimals_are_taken(raw, expected):
    assert decimal_field().clean(raw) == Decimal(expected)


@_BOUNDED
@given(st.from_regex(DATE_OR_DATETIME_PATTERN, fullmatch=True))
def test_a_value_of_the_date_pattern_is_an_instant_or_a_validation_error(raw):
    try:
        value = DateOrDateTimeField().clean(raw)
    except forms.ValidationError:
        return  # e.g. month 13 or an offset past year 9999: never another exception
    assert value.tzinfo is UTC


@_BOUNDED
@given(st.text(max_size=40))
def test_a_value_outside_the_date_pattern_is_rejected(raw):
    if not raw or re.fullmatch(DATE_OR_DATETIME_PATTERN, raw, re.ASCII):
        return
    with pytest.raises(forms.ValidationError):
        DateOrDateTimeField().clean(raw)


PRICE_PATTERN = decimal_pattern(max_digits=12, decimal_places=2)


@_BOUNDED
@given(st.one_of(st.from_regex(PRICE_PATTERN, fullmatch=True), st.text(max_size=20)))
def test_a_decimal_is_taken_only_if_it_matches_the_published_pattern(raw):
    pattern = PRICE_PATTERN
    if not raw:
        return
    if re.fullmatch(pattern, raw, re.ASCII):
        assert decimal_field().clean(raw) == Decimal(raw)
    else:
        with pytest.raises(forms.ValidationError):
            decimal_field().clean(raw)
