"""Subscriptions: which handlers consume which event, and in which context.

A consuming context registers handlers in its ``handlers.py`` (imported by its
``AppConfig.ready``)::

    @subscribe(UserRegistered, context="notifications")
    def send_welcome(event: UserRegistered) -> None: ...

Each handler runs on its context's queue, inside its context's transaction,
together with an inbox row keyed by (event id, handler), so a redelivered
event has no second effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from contexts.kernel.databases import CONTEXTS
from contexts.kernel.events import DomainEvent

Handler = Callable[[DomainEvent], None]


@dataclass(frozen=True)
class Subscription:
    event_name: str
    event_version: int
    context: str
    handler_name: str
    handler: Handler


_SUBSCRIPTIONS: dict[str, Subscription] = {}


def subscribe(event_type: type[DomainEvent], *, context: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as ``context``'s handler of ``event_type``."""
    if context not in CONTEXTS:
        raise LookupError(f"unknown context {context!r}")

    def register(func: Handler) -> Handler:
        handler_name = f"{func.__module__}.{func.__qualname__}"
        _SUBSCRIPTIONS[handler_name] = Subscription(
            event_name=event_type.name,
            event_version=event_type.version,
            context=context,
            handler_name=handler_name,
            handler=func,
        )
        return func

    return register


def subscriptions_for(event_name: str, event_version: int) -> list[Subscription]:
    """Every handler subscribed to this event type."""
    return [
        s
        for s in _SUBSCRIPTIONS.values()
        if s.event_name == event_name and s.event_version == event_version
    ]


def all_subscriptions() -> list[Subscription]:
    """Every registered subscription (the context map lists them)."""
    return list(_SUBSCRIPTIONS.values())


def subscription(handler_name: str) -> Subscription:
    return _SUBSCRIPTIONS[handler_name]
