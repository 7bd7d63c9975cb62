"""The application error type every context derives its own from.

A context defines one base error (e.g. ``class InventoryError(DomainError)``)
and raises subclasses of it from its services; the API exception handler in
``contexts.kernel.api`` maps each to its HTTP status in one place.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A business rule said no. ``http_status`` is how the API reports it."""

    http_status: ClassVar[int] = 400

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        #: When set, the API reports ``{field: [detail]}`` like a validation error.
        self.field = field


class NotFound(DomainError):
    http_status = 404


class Invalid(DomainError):
    http_status = 400


class Throttled(DomainError):
    """Too many attempts: the API answers 429 with ``Retry-After: <retry_after>``."""

    http_status = 429

    def __init__(self, detail: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        #: Whole seconds until the caller may try again (at least 1).
        self.retry_after = max(1, int(retry_after))
