"""Read queries of the payments context."""

from __future__ import annotations

from uuid import UUID

from contexts.payments.contracts import PaymentInfo, PaymentStatus
from contexts.payments.models import Payment


def payment_for_order(*, order_id: UUID) -> Payment | None:
    """The order's payment row, or None."""
    return Payment.objects.filter(order_id=order_id).first()


def payment_info(payment: Payment) -> PaymentInfo:
    """The public view of a payment row."""
    return PaymentInfo(
        payment_id=payment.id,
        order_id=payment.order_id,
        status=PaymentStatus(payment.status),
        amount=payment.amount,
        currency=payment.currency,
    )


def get_payment_for_order(*, order_id: UUID) -> PaymentInfo | None:
    """The order's payment as a DTO, or None if it was never charged."""
    payment = payment_for_order(order_id=order_id)
    return payment_info(payment) if payment is not None else None
