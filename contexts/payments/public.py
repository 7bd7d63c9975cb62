"""The payments context's public interface: the only functions other contexts may call.

Functions take and return plain data: primitives and the types of
``contexts.payments.contracts`` (where the errors they raise live too).
Every call is idempotent per order: the saga may repeat any of them after a
crash or a redelivery without charging or refunding twice.

Where this deployment runs the payments context they run in the process
(``local``); elsewhere they call the payments deployment at ``PAYMENTS_URL``
(``remote``), where a deployment that does not answer raises
``PaymentGatewayUnavailable``, the error callers already retry. Callers cannot
tell the difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from types import ModuleType
from uuid import UUID

from contexts.kernel.deployment import runs_here
from contexts.payments.contracts import ChargeOutcome, ChargeRequest, PaymentInfo

__all__ = [
    "charge_for_order",
    "charge_for_orders",
    "get_payment_for_order",
    "refund_for_order",
    "resubmit_rejected_refund",
]


def charge_for_order(
    *, order_id: UUID, amount: Decimal, currency: str, payment_token: str
) -> PaymentInfo:
    """Charge ``amount`` for the order, once, and return the payment (``CAPTURED``).

    Idempotent per order: an order already captured is returned without calling
    the gateway, and one already declined raises ``ChargeDeclined`` again. The
    gateway is called outside any transaction with the key ``charge:<order_id>``;
    each attempt is recorded, and ``PaymentCaptured`` / ``PaymentDeclined`` are
    published with the outcome.

    Raises ``ChargeDeclined`` (do not retry; ``PaymentAbandoned`` when the order
    already gave the payment up), ``PaymentGatewayUnavailable`` (retry with
    backoff), or ``PaymentError`` for an invalid amount or currency, or one that
    differs from the order's earlier charge request.
    """
    return _implementation().charge_for_order(
        order_id=order_id, amount=amount, currency=currency, payment_token=payment_token
    )


def charge_for_orders(*, requests: Sequence[ChargeRequest]) -> dict[UUID, ChargeOutcome]:
    """``charge_for_order`` for many orders, with one transaction for all of them.

    One statement records every attempt about to be made (and answers the
    orders that need no gateway call), the gateway is called for each order
    with no transaction open (same keys, same settling of unknown outcomes as
    ``charge_for_order``), and one transaction records every outcome. Returns
    each order's ``ChargeOutcome``: ``CAPTURED`` with the payment, or what
    ``charge_for_order`` would have raised for it (``DECLINED``,
    ``ABANDONED``, ``UNAVAILABLE``, ``REFUSED``; ``FAILED`` for a bug of the
    gateway adapter, logged, not hidden). One order's failure never fails the
    others.
    """
    return _implementation().charge_for_orders(requests=requests)


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
    return _implementation().refund_for_order(order_id=order_id)


def resubmit_rejected_refund(*, order_id: UUID) -> bool:
    """Make the order's rejected refund due again (staff, once the PSP accepts it).

    The next ``refund_for_order`` sends it to the gateway under a new
    idempotency key. Returns False when the order has no rejected refund.
    """
    return _implementation().resubmit_rejected_refund(order_id=order_id)


def get_payment_for_order(*, order_id: UUID) -> PaymentInfo | None:
    """The order's payment, or None if it was never charged."""
    return _implementation().get_payment_for_order(order_id=order_id)


def _implementation() -> ModuleType:
    """``local`` where payments runs in this deployment, else the HTTP adapter ``remote``."""
    if runs_here("payments"):
        from contexts.payments import local

        return local
    from contexts.payments import remote

    return remote
