"""The orders context's errors: one base type, mapped to HTTP by the kernel's handler."""

from __future__ import annotations

from contexts.kernel.errors import DomainError


class OrdersError(DomainError):
    """Base of every error the orders services raise (400 unless a subclass says)."""


class InvalidOrder(OrdersError):
    """The order cannot be placed as asked (e.g. an unknown or deleted product)."""

    http_status = 400


class OrderNotFound(OrdersError):
    """No such order, or not one the caller may see (its existence is not revealed)."""

    http_status = 404

    def __init__(self, detail: str = "Order not found.") -> None:
        super().__init__(detail)


class OrderConflict(OrdersError):
    """The order is not in a status that allows the request (e.g. cancel while PENDING)."""

    http_status = 409


class IdempotencyKeyReused(OrdersError):
    """The Idempotency-Key was used before by this user with a different request."""

    http_status = 422


class IdempotentRequestInProgress(OrdersError):
    """A request with the same Idempotency-Key is still being processed."""

    http_status = 409
