"""OpenAPI for the internal API: contract types as components, kept out of ``/api/schema/``.

``contract_serializer(UserInfo)`` is a DRF serializer with one field per
dataclass field, for ``@extend_schema`` of an internal endpoint: the internal
document at ``/internal/schema/`` then describes exactly the JSON ``codec``
writes. ``without_internal_endpoints`` is the public document's preprocessing
hook (``SPECTACULAR_SETTINGS``): customers never see ``/internal/``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, get_args, get_origin, get_type_hints
from uuid import UUID

from rest_framework import serializers

INTERNAL_PREFIX = "/internal/"


def without_internal_endpoints(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: drop every ``/internal/`` path."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith(INTERNAL_PREFIX)]


def _field(annotation: Any) -> serializers.Field:
    nullable = False
    if get_origin(annotation) in (typing.Union, types.UnionType):
        present = [option for option in get_args(annotation) if option is not type(None)]
        nullable = len(present) < len(get_args(annotation))
        (annotation,) = present
    options: dict[str, Any] = {"allow_null": True} if nullable else {}
    origin = get_origin(annotation)
    if origin in (list, tuple):
        args = get_args(annotation)
        return serializers.ListField(child=_field(args[0]), **options)
    if dataclasses.is_dataclass(annotation):
        return contract_serializer(annotation)(**options)  # type: ignore[arg-type]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return serializers.ChoiceField(choices=[m.value for m in annotation], **options)
    simple: dict[Any, type[serializers.Field]] = {
        UUID: serializers.UUIDField,
        str: serializers.CharField,
        bool: serializers.BooleanField,
        int: serializers.IntegerField,
        float: serializers.FloatField,
        datetime: serializers.DateTimeField,
    }
    if annotation is Decimal:
        return serializers.DecimalField(max_digits=20, decimal_places=2, **options)
    return simple[annotation](**options)


@cache
def contract_serializer(contract: type) -> type[serializers.Serializer]:
    """A serializer class named like the contract type, describing its JSON form."""
    hints = get_type_hints(contract)
    fields = {field.name: _field(hints[field.name]) for field in dataclasses.fields(contract)}
    return type(contract.__name__, (serializers.Serializer,), fields)
