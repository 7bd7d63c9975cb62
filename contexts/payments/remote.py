"""The payments context's public functions, called over HTTP where payments runs elsewhere.

``public`` delegates here when ``payments`` is not in this deployment's
``SHOP_CONTEXTS``; the payments deployment at ``PAYMENTS_URL`` serves them
(``internal_api``). Same functions, same contract types, same errors.

A payments deployment that does not answer (refused, timed out, 5xx after the
retries) is ``PaymentGatewayUnavailable``: raised by the single-order
functions, and reported for every order of a batch charge as the
``UNAVAILABLE`` outcome a gateway outage gives each order in process. For the
saga a payments outage is what a gateway outage already was: retried with
backoff (``PAYMENT_RETRY_SCHEDULED`` in the order's history) and bounded by
``ORDERS_PAYMENT_MAX_ATTEMPTS``. Every write is sent with an idempotency key
derived from the order id and is retried: payments does each at most once per
order (the payment row and the gateway's key are per order), so a repeat after
a lost reply answers the same payment and charges nothing more.

A charge waits on the payment gateway, which the payments deployment gives
``PAYMENT_GATEWAY_TIMEOUT_SECONDS`` per call (one call per order, in turn):
the hop waits that long per order on top of ``INTERNAL_API_TIMEOUT_SECONDS``,
so a slow gateway is not taken for a payments outage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from django.conf import settings

from contexts.kernel.remote.client import RemoteCallRejected, RemoteContext
from contexts.kernel.remote.codec import decode, decode_as, encode
from contexts.payments.contracts import (
    ChargeDeclined,
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    PaymentAbandoned,
    PaymentError,
    PaymentGatewayUnavailable,
    PaymentInfo,
    PaymentRefundRejected,
)

payments = RemoteContext(
    "payments",
    unavailable=PaymentGatewayUnavailable,
    errors=[ChargeDeclined, PaymentAbandoned, PaymentError, PaymentRefundRejected],
)

#: Gateway calls a refund may make: a lookup of the charge, the refund, and a late capture's.
_REFUND_GATEWAY_CALLS = 3


def charge_for_order(
    *, order_id: UUID, amount: Decimal, currency: str, payment_token: str
) -> PaymentInfo:
    data = payments.post(
        f"charges/{order_id}",
        {"amount": encode(amount), "currency": currency, "payment_token": payment_token},
        idempotency_key=f"charge:{order_id}",
        timeout=_waiting_on_gateway(calls=1),
    )
    return decode_as(PaymentInfo, data)


def charge_for_orders(*, requests: Sequence[ChargeRequest]) -> dict[UUID, ChargeOutcome]:
    if not requests:
        return {}
    order_ids = sorted(str(request.order_id) for request in requests)
    batch = hashlib.sha256(",".join(order_ids).encode()).hexdigest()[:32]
    try:
        data = payments.post(
            "charges",
            {"requests": encode(list(requests))},
            idempotency_key=f"charges:{batch}",
            timeout=_waiting_on_gateway(calls=len(requests)),
        )
    except PaymentGatewayUnavailable as exc:
        # Each order's outcome on its own, as in process: no answer, retry each.
        return {
            request.order_id: ChargeOutcome(
                order_id=request.order_id, result=ChargeResult.UNAVAILABLE, detail=str(exc)
            )
            for request in requests
        }
    if not isinstance(data, dict):
        raise RemoteCallRejected(f"payments answered a batch charge with {data!r}.")
    outcomes = decode(list[ChargeOutcome], data["outcomes"])
    return {outcome.order_id: outcome for outcome in outcomes}


def refund_for_order(*, order_id: UUID) -> PaymentInfo | None:
    data = payments.post(
        f"refunds/{order_id}",
        {},
        idempotency_key=f"refund:{order_id}",
        timeout=_waiting_on_gateway(calls=_REFUND_GATEWAY_CALLS),
    )
    return decode_as(PaymentInfo, data) if data is not None else None


def resubmit_rejected_refund(*, order_id: UUID) -> bool:
    data = payments.post(
        f"refunds/{order_id}/resubmission", {}, idempotency_key=f"refund-resubmission:{order_id}"
    )
    return bool(data and data.get("resubmitted"))


def get_payment_for_order(*, order_id: UUID) -> PaymentInfo | None:
    data = payments.get(f"orders/{order_id}/payment")
    return decode_as(PaymentInfo, data) if data is not None else None


def _waiting_on_gateway(*, calls: int) -> float:
    """How long a call that makes ``calls`` gateway calls on the payments side may take."""
    return settings.INTERNAL_API_TIMEOUT_SECONDS + calls * settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS
