"""Subscriptions: which handlers consume which event, and in which context.

A consuming context registers handlers in its ``handlers.py`` (imported by its
``AppConfig.ready``), each under an explicit, stable id::

    @subscribe(UserRegistered, context="notifications", id="notifications.send_welcome")
    def send_welcome(event: UserRegistered) -> None: ...

The id, not the function's import path, is the handler's identity: the inbox
de-duplicates on (event id, handler id), the delivery message names it, and
the publisher's outbox tracks which ids have confirmed. Renaming or moving the
function keeps its id; changing the id makes every event look new to it.

Each handler runs on its context's queue, inside its context's transaction,
together with an inbox row keyed by (event id, handler id), so a redelivered
event has no second effect.

Which context consumes which event is also *declared* with the contracts
(``CONSUMES`` in ``contexts/<context>/contracts.py``, see
``contexts.kernel.consumes``): ``declared_consumers`` reads the declarations of
every context, run here or not, so a publisher routes an event to a consumer
that runs in another deployment. The system check in ``contexts.kernel.checks``
keeps declarations and registered handlers in step.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TypeVar, cast

from contexts.kernel.consumes import Consumes
from contexts.kernel.databases import CONTEXTS
from contexts.kernel.events import DomainEvent

Handler = Callable[[DomainEvent], None]
E = TypeVar("E", bound=DomainEvent)

#: ``<context>.<name>``: lowercase words, dots, underscores (it is stored in every inbox row).
_HANDLER_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class Subscription:
    event_name: str
    event_version: int
    context: str
    #: The stable id under which the handler is registered (its inbox identity).
    handler_id: str
    handler: Handler


_SUBSCRIPTIONS: dict[str, Subscription] = {}
#: Handler ids removed from the code, whose deliveries may still arrive: id -> why.
_RETIRED: dict[str, str] = {}


class UnknownHandler(LookupError):
    """No handler has this id in this deployment (a rolling deploy, or a removed handler)."""


def subscribe(
    event_type: type[E], *, context: str, id: str
) -> Callable[[Callable[[E], None]], Callable[[E], None]]:
    """Register the decorated function as ``context``'s handler of ``event_type`` under ``id``."""
    if context not in CONTEXTS:
        raise LookupError(f"unknown context {context!r}")
    if not _HANDLER_ID.match(id) or len(id) > 255:
        raise ValueError(f"handler id {id!r} must look like 'context.name' (lowercase)")

    def register(func: Callable[[E], None]) -> Callable[[E], None]:
        existing = _SUBSCRIPTIONS.get(id)
        if existing is not None and _path(existing.handler) != _path(func):
            raise LookupError(f"handler id {id!r} is already taken by {_path(existing.handler)}")
        _SUBSCRIPTIONS[id] = Subscription(
            event_name=event_type.name,
            event_version=event_type.version,
            context=context,
            handler_id=id,
            # Only events of ``event_type`` are ever dispatched to it.
            handler=cast(Handler, func),
        )
        return func

    return register


def retire(handler_id: str, *, reason: str) -> None:
    """Declare that ``handler_id`` was removed on purpose (in the consuming context's
    ``handlers.py``, where the handler was).

    Deliveries for it may still come: outbox rows and queued messages of
    older deployments list it. Instead of being deferred as an unknown handler
    (retried forever, waiting for a worker that knows it), such a delivery is
    recorded as done without running anything and confirmed to its publisher.
    """
    if handler_id in _SUBSCRIPTIONS:
        raise LookupError(f"handler id {handler_id!r} is subscribed; it cannot be retired")
    _RETIRED[handler_id] = reason


def is_retired(handler_id: str) -> bool:
    """True if ``handler_id`` was removed on purpose (see ``retire``)."""
    return handler_id in _RETIRED


def unsubscribe(handler_id: str) -> None:
    """Forget a registration (tests simulating a deployment without that handler)."""
    _SUBSCRIPTIONS.pop(handler_id, None)


def _path(func: Callable[..., object]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


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


def subscription(handler_id: str) -> Subscription:
    """The handler registered under ``handler_id``; ``UnknownHandler`` if none is here."""
    try:
        return _SUBSCRIPTIONS[handler_id]
    except KeyError:
        raise UnknownHandler(f"no handler {handler_id!r} in this deployment") from None


@cache
def declared_consumers() -> tuple[Consumes, ...]:
    """Every context's declared consumers (``CONSUMES`` of ``contexts/<name>/contracts.py``).

    All six contexts, whatever this deployment runs: the contracts are plain
    Python and import without their context's app. A handler id must name its
    context (``notifications.…`` in notifications' contracts) and be declared once.
    """
    declared: dict[str, Consumes] = {}
    for context in CONTEXTS:
        module = importlib.import_module(f"contexts.{context}.contracts")
        for item in getattr(module, "CONSUMES", ()):
            if not isinstance(item, Consumes):
                raise TypeError(f"contexts.{context}.contracts.CONSUMES holds {item!r}")
            if item.context != context or not _HANDLER_ID.match(item.handler):
                raise ValueError(
                    f"contexts.{context}.contracts declares handler id {item.handler!r}: "
                    f"it must look like '{context}.name'"
                )
            if item.handler in declared:
                raise LookupError(f"handler id {item.handler!r} is declared twice")
            declared[item.handler] = item
    return tuple(declared.values())


def declared_consumers_of(event_name: str, event_version: int) -> dict[str, str]:
    """Handler id -> consuming context, for every declared consumer of this event type."""
    return {
        d.handler: d.context
        for d in declared_consumers()
        if (d.event, d.version) == (event_name, event_version)
    }
