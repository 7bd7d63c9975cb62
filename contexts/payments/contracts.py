"""What crosses the payments boundary: the payment DTO, its status and the errors callers catch.

Plain Python only (no Django, nothing else of this context), so that a caller
over HTTP could share this module unchanged. ``public.py`` offers the
functions; this module the types they speak.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from contexts.kernel.errors import DomainError

__all__ = [
    "ChargeDeclined",
    "ChargeOutcome",
    "ChargeRequest",
    "ChargeResult",
    "PaymentAbandoned",
    "PaymentError",
    "PaymentGatewayUnavailable",
    "PaymentInfo",
    "PaymentRefundRejected",
    "PaymentStatus",
]


class PaymentStatus(StrEnum):
    """Where an order's payment stands (the values of the payment table's ``status``)."""

    PENDING = "PENDING"
    CAPTURED = "CAPTURED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"


@dataclass(frozen=True)
class PaymentInfo:
    """An order's payment."""

    payment_id: UUID
    order_id: UUID
    status: PaymentStatus
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class ChargeRequest:
    """One order to charge (``charge_for_orders``)."""

    order_id: UUID
    amount: Decimal
    currency: str
    payment_token: str


class PaymentError(DomainError):
    """Base error of the payments context (also raised for a malformed request)."""


class ChargeDeclined(PaymentError):
    """The gateway refused the charge: a business failure, do not retry.

    Not to be confused with the ``PaymentDeclined`` event, which the payments
    context publishes when it records the refusal.
    """


class PaymentAbandoned(ChargeDeclined):
    """The order already gave this payment up (refunded, or voided before capture).

    A ``ChargeDeclined``, so a caller that stops and compensates on a decline
    does the right thing when a stale charge request arrives late.
    """


class PaymentRefundRejected(PaymentError):
    """The gateway refused the refund: retrying cannot help; staff must resubmit it.

    See ``public.resubmit_rejected_refund``.
    """


class PaymentGatewayUnavailable(PaymentError):
    """The gateway gave no definitive answer (error or timeout): retry with backoff.

    Retrying is safe: the same idempotency key is sent, so a charge the gateway
    made before losing its reply is found, not repeated.
    """

    http_status = 503


class ChargeResult(StrEnum):
    """What became of one order's charge in ``charge_for_orders``."""

    #: Captured (now or before): ``ChargeOutcome.payment`` is the payment.
    CAPTURED = "CAPTURED"
    #: ``ChargeDeclined``: the gateway refused it (final).
    DECLINED = "DECLINED"
    #: ``PaymentAbandoned``: the order had already given the payment up.
    ABANDONED = "ABANDONED"
    #: ``PaymentGatewayUnavailable``: no definitive answer; retry with backoff.
    UNAVAILABLE = "UNAVAILABLE"
    #: ``PaymentError``: a request the payments context refuses (amount, currency...).
    REFUSED = "REFUSED"
    #: The gateway adapter failed with a bug (recorded and logged); retry.
    FAILED = "FAILED"


@dataclass(frozen=True)
class ChargeOutcome:
    """One order's outcome in ``charge_for_orders``: the payment, or why there is none."""

    order_id: UUID
    result: ChargeResult
    payment: PaymentInfo | None = None
    detail: str = ""

    def error(self) -> Exception | None:
        """The error ``charge_for_order`` would have raised (None when captured)."""
        match self.result:
            case ChargeResult.CAPTURED:
                return None
            case ChargeResult.DECLINED:
                return ChargeDeclined(self.detail)
            case ChargeResult.ABANDONED:
                return PaymentAbandoned(self.detail)
            case ChargeResult.UNAVAILABLE:
                return PaymentGatewayUnavailable(self.detail)
            case ChargeResult.REFUSED:
                return PaymentError(self.detail)
        return RuntimeError(self.detail)
