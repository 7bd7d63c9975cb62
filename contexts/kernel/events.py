"""The base type of every domain event: frozen, versioned, JSON-serialisable.

A context declares the events it publishes in its ``events.py``::

    @dataclass(frozen=True, kw_only=True)
    class UserRegistered(DomainEvent):
        name: ClassVar[str] = "users.UserRegistered"
        version: ClassVar[int] = 1
        context: ClassVar[str] = "users"

        user_id: UUID
        email: str

Changing an event's shape means a new class with a new ``version``; both stay
registered so that rows already in an outbox can still be read.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Self
from uuid import UUID, uuid4

from contexts.kernel.correlation import get_correlation_id

_REGISTRY: dict[tuple[str, int], type[DomainEvent]] = {}
_ENVELOPE = ("event_id", "occurred_at", "correlation_id")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Envelope (id, time, correlation id) plus the subclass's own fields."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    #: The context that publishes the event, and so owns the outbox it leaves through.
    context: ClassVar[str]

    event_id: UUID = field(default_factory=uuid4)
    occurred_at: datetime = field(default_factory=_now)
    correlation_id: str = field(default_factory=get_correlation_id)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            key = (cls.name, cls.version)
            if key in _REGISTRY and _REGISTRY[key].__qualname__ != cls.__qualname__:
                raise TypeError(f"event {key} is declared twice")
            _REGISTRY[key] = cls

    def payload(self) -> dict[str, Any]:
        """The event's own fields (not the envelope) as JSON-compatible data."""
        return {
            f.name: _to_json(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in _ENVELOPE
        }

    @classmethod
    def from_payload(
        cls,
        payload: dict[str, Any],
        *,
        event_id: UUID | str,
        occurred_at: datetime | str,
        correlation_id: str,
    ) -> Self:
        """Rebuild an event from its stored payload and envelope."""
        hints = typing.get_type_hints(cls)
        values = {
            f.name: _from_json(hints[f.name], payload[f.name])
            for f in dataclasses.fields(cls)
            if f.name not in _ENVELOPE and f.name in payload
        }
        return cls(
            event_id=UUID(str(event_id)),
            occurred_at=_from_json(datetime, occurred_at),
            correlation_id=correlation_id,
            **values,
        )


def event_type(name: str, version: int) -> type[DomainEvent]:
    """The registered event class for ``(name, version)``."""
    try:
        return _REGISTRY[(name, version)]
    except KeyError:
        raise LookupError(f"unknown event {name!r} version {version}") from None


def _to_json(value: Any) -> Any:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    return value


def _from_json(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _from_json(inner[0], value) if len(inner) == 1 else value
    if origin in (tuple, list):
        args = typing.get_args(hint)
        item = args[0] if args else Any
        items = [_from_json(item, v) for v in value]
        return tuple(items) if origin is tuple else items
    if hint in (UUID, Decimal):
        return hint(str(value))
    if hint is datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        sub = typing.get_type_hints(hint)
        return hint(**{k: _from_json(sub[k], v) for k, v in value.items()})
    return value
