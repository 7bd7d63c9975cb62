"""Contract types to JSON and back, driven by the dataclasses' annotations.

``encode`` turns a contract value (a frozen dataclass, an enum, a UUID, a
``Decimal``, a datetime, or lists, tuples and dicts of them) into JSON data:
UUIDs, decimals and datetimes become strings (a decimal keeps its exact
digits), enums their value. ``decode(type, data)`` rebuilds the value of
``type`` from such data, so both ends of the hop speak the contract's types
and nothing else.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, get_args, get_origin, get_type_hints
from uuid import UUID

T = TypeVar("T")


def encode(value: Any) -> Any:
    """JSON data for a contract value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: encode(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {str(encode(key)): encode(item) for key, item in value.items()}
    return value


def decode(annotation: Any, data: Any) -> Any:
    """The value of type ``annotation`` that ``encode`` turned into ``data``."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = get_args(annotation)
        if data is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return decode(inner, data)
    if origin in (list, tuple):
        args = get_args(annotation)
        items = [decode(args[0] if args else Any, item) for item in data]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        key_type, value_type = get_args(annotation)
        return {decode(key_type, key): decode(value_type, item) for key, item in data.items()}
    if annotation is Any:
        return data
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        hints = get_type_hints(annotation)
        return annotation(
            **{
                field.name: decode(hints[field.name], data[field.name])
                for field in dataclasses.fields(annotation)
                if field.name in data
            }
        )
    if isinstance(annotation, type) and issubclass(annotation, Enum | UUID | Decimal):
        return annotation(data)
    if annotation is datetime:
        return datetime.fromisoformat(data)
    if annotation in (str, int, float, bool):
        if not isinstance(data, annotation):
            raise TypeError(f"expected {annotation.__name__}, got {data!r}")
        return data
    raise TypeError(f"no JSON decoding for {annotation!r}")


def decode_as(annotation: type[T], data: Any) -> T:
    """``decode`` typed for a class (the common case: one contract dataclass)."""
    return typing.cast(T, decode(annotation, data))
