"""The port to a payment gateway (PSP) and how the configured adapter is chosen.

A gateway is a remote system: it is called outside any database transaction,
may hang or lose its reply, and dedupes requests by idempotency key, so the
same key never charges (or refunds) twice however often it is sent. The
adapter in use is the class named by the ``PAYMENT_GATEWAY`` setting (a dotted
path; the simulated gateway by default). An adapter must give up after
``PAYMENT_GATEWAY_TIMEOUT_SECONDS`` and raise :class:`GatewayTimeout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

APPROVED: Final = "approved"
DECLINED: Final = "declined"


@dataclass(frozen=True, kw_only=True)
class GatewayResult:
    """A definitive answer of the gateway: the money moved (approved) or it never will."""

    status: Literal["approved", "declined"]
    #: The gateway's id of the charge or refund (empty when declined).
    reference: str = ""
    #: Why it was declined (empty when approved).
    reason: str = ""

    @property
    def approved(self) -> bool:
        return self.status == APPROVED


class GatewayError(Exception):
    """Transient: the gateway did not give a definitive answer; retry with the same key.

    The request may or may not have taken effect at the gateway.
    """


class GatewayTimeout(GatewayError):
    """No reply within ``PAYMENT_GATEWAY_TIMEOUT_SECONDS`` (the reply may have been lost)."""


class PaymentGateway(Protocol):
    """What payments needs from a PSP. Every call is idempotent per ``idempotency_key``.

    A business refusal is a ``declined`` result; anything that leaves the
    outcome unknown raises :class:`GatewayError` (or :class:`GatewayTimeout`).
    """

    def charge(
        self, *, idempotency_key: str, amount: Decimal, currency: str, token: str
    ) -> GatewayResult: ...

    def refund(
        self, *, idempotency_key: str, charge_reference: str, amount: Decimal, currency: str
    ) -> GatewayResult: ...

    def lookup(self, *, idempotency_key: str) -> GatewayResult | None:
        """What the request sent with ``idempotency_key`` came to, without sending it again.

        The stored definitive answer (approved with its reference, or declined),
        or None when the gateway holds no definitive outcome for the key (it never
        received the request, or it took no action). Safe to call any number of
        times; raises :class:`GatewayError` when the gateway cannot be asked.
        """
        ...


def get_gateway() -> PaymentGateway:
    """An instance of the adapter named by ``settings.PAYMENT_GATEWAY``."""
    return import_string(settings.PAYMENT_GATEWAY)()


def gateway_timeout_seconds() -> float:
    """How long an adapter waits for the gateway before raising GatewayTimeout."""
    return float(settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS)
