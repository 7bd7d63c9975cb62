"""The payments context's public interface: the only functions other contexts may call.

Functions take and return plain data (primitives and frozen dataclasses).
Every call is idempotent per order: the saga may repeat any of them after a
crash or a redelivery without charging or refunding twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from contexts.kernel.errors import DomainError


@dataclass(frozen=True)
class PaymentInfo:
    """An order's payment. ``status``: PENDING, CAPTURED, DECLINED, FAILED or REFUNDED."""

    payment_id: UUID
    order_id: UUID
    status: str
    amount: Decimal
    currency: str


class PaymentError(DomainError):
    """Base error of the payments context (also raised for a malformed request)."""


class PaymentDeclined(PaymentError):
    """The gateway refused the payment: a business failure, do not retry."""


class PaymentAbandoned(PaymentDeclined):
    """The order already gave this payment up (refunded, or voided before capture).

    A ``PaymentDeclined``, so a caller that stops and compensates on a decline
    does the right thing when a stale charge request arrives late.
    """


class PaymentRefundRejected(PaymentError):
    """The gateway refused the refund: retrying cannot help; staff must resubmit it.

    See ``resubmit_rejected_refund``.
    """

    code = "payment_refund_rejected"


class PaymentGatewayUnavailable(PaymentError):
    """The gateway gave no definitive answer (error or timeout): retry with backoff.

    Retrying is safe: the same idempotency key is sent, so a charge the gateway
    made before losing its reply is found, not repeated.
    """

    http_status = 503
    code = "payment_gateway_unavailable"


def charge_for_order(
    *, order_id: UUID, amount: Decimal, currency: str, payment_token: str
) -> PaymentInfo:
    """Charge ``amount`` for the order, once, and return the payment (``CAPTURED``).

    Idempotent per order: an order already captured is returned without calling
    the gateway, and one already declined raises ``PaymentDeclined`` again. The
    gateway is called outside any transaction with the key ``charge:<order_id>``;
    each attempt is recorded, and ``PaymentCaptured`` / ``PaymentDeclined`` are
    published with the outcome.

    Raises ``PaymentDeclined`` (do not retry; ``PaymentAbandoned`` when the order
    already gave the payment up), ``PaymentGatewayUnavailable`` (retry with
    backoff), or ``PaymentError`` for an invalid amount or currency, or one that
    differs from the order's earlier charge request.
    """
    from contexts.payments import services  # services import this module's types

    return services.payment_charge(
        order_id=order_id, amount=amount, currency=currency, payment_token=payment_token
    )


def refund_for_order(*, order_id: UUID) -> PaymentInfo | None:
    """Give the order's payment back, once; returns it (``REFUNDED``), or None.

    None means nothing was taken: no payment, or none captured. A payment
    still pending is voided first (so a late charge request cannot capture it),
    then the gateway is asked what the charge key came to: a capture it made
    (e.g. one whose reply was lost) is recorded and refunded, and only "nothing
    captured" returns None. A payment already refunded is returned as it is.
    The refund is sent with the key ``refund:<order_id>`` and
    ``PaymentRefunded`` is published.

    Raises ``PaymentGatewayUnavailable`` when the gateway gave no definitive
    answer (retry; the reconciliation job settles it too), ``PaymentRefundRejected``
    when the gateway refused the refund (final until staff resubmit it).
    """
    from contexts.payments import services

    return services.payment_refund(order_id=order_id)


def resubmit_rejected_refund(*, order_id: UUID) -> bool:
    """Make the order's rejected refund due again (staff, once the PSP accepts it).

    The next ``refund_for_order`` sends it to the gateway under a new
    idempotency key. Returns False when the order has no rejected refund.
    """
    from contexts.payments import services

    return services.payment_resubmit_refund(order_id=order_id)


def get_payment_for_order(*, order_id: UUID) -> PaymentInfo | None:
    """The order's payment, or None if it was never charged."""
    from contexts.payments import selectors

    return selectors.payment_info_for_order(order_id=order_id)
