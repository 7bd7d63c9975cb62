"""Contract types survive the hop: encode to JSON data, decode to the same value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid4

import pytest
from rest_framework import serializers

from contexts.kernel.remote.codec import decode, decode_as, encode
from contexts.kernel.remote.schema import contract_serializer


class Colour(StrEnum):
    RED = "RED"
    BLUE = "BLUE"


@dataclass(frozen=True)
class Line:
    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class Sample:
    id: UUID
    price: Decimal
    at: datetime
    colour: Colour
    lines: tuple[Line, ...]
    note: str | None
    paid: bool


def sample() -> Sample:
    return Sample(
        id=uuid4(),
        price=Decimal("12.50"),
        at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        colour=Colour.BLUE,
        lines=(Line(product_id=uuid4(), quantity=2),),
        note=None,
        paid=True,
    )


def test_a_contract_value_round_trips_through_json():
    value = sample()

    data = json.loads(json.dumps(encode(value)))

    assert data["price"] == "12.50" and data["colour"] == "BLUE"
    assert decode_as(Sample, data) == value


def test_containers_of_contract_values_round_trip():
    value = sample()
    by_id = {value.id: value}

    assert decode(dict[UUID, Sample], json.loads(json.dumps(encode(by_id)))) == by_id
    assert decode(Sample | None, None) is None


def test_data_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError):
        decode(int, "2")


def test_the_schema_serializer_has_a_field_per_contract_field():
    serializer = contract_serializer(Sample)()

    assert serializer.__class__.__name__ == "Sample"
    assert isinstance(serializer.fields["id"], serializers.UUIDField)
    assert isinstance(serializer.fields["price"], serializers.DecimalField)
    assert isinstance(serializer.fields["colour"], serializers.ChoiceField)
    assert serializer.fields["note"].allow_null
    assert isinstance(serializer.fields["lines"], serializers.ListField)
