"""Correlation ids: one per request, carried into every event and log line it causes."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

#: The HTTP header carrying it, in and out of every request (and on calls between deployments).
REQUEST_ID_HEADER = "X-Request-ID"

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def get_correlation_id() -> str:
    """The current correlation id, generating one if none is set."""
    value = _current.get()
    if value is None:
        value = new_correlation_id()
        _current.set(value)
    return value


def current_correlation_id() -> str | None:
    """The current correlation id, or None if none is set (never generates one)."""
    return _current.get()


def set_correlation_id(value: str | None):
    """Set the id for the current context; returns a token for ``reset``."""
    return _current.set(value)


def reset_correlation_id(token) -> None:
    _current.reset(token)


def new_correlation_id() -> str:
    return uuid.uuid4().hex
