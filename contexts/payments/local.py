"""The payments context's public functions, in the process that runs payments.

``public`` delegates here where this deployment runs the payments context,
and the internal API (``internal_api``) serves the same functions to
deployments that do not. Each calls one service or selector and answers the
context's contract types.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from contexts.payments import selectors, services
from contexts.payments.contracts import ChargeOutcome, ChargeRequest, PaymentInfo


def charge_for_order(
    *, order_id: UUID, amount: Decimal, currency: str, payment_token: str
) -> PaymentInfo:
    return services.charge_for_order(
        order_id=order_id, amount=amount, currency=currency, payment_token=payment_token
    )


def charge_for_orders(*, requests: Sequence[ChargeRequest]) -> dict[UUID, ChargeOutcome]:
    return {
        order_id: services.charge_outcome(order_id, outcome)
        for order_id, outcome in services.charge_for_orders(requests=requests).items()
    }


def refund_for_order(*, order_id: UUID) -> PaymentInfo | None:
    return services.refund_for_order(order_id=order_id)


def resubmit_rejected_refund(*, order_id: UUID) -> bool:
    return services.resubmit_rejected_refund(order_id=order_id)


def get_payment_for_order(*, order_id: UUID) -> PaymentInfo | None:
    return selectors.get_payment_for_order(order_id=order_id)
