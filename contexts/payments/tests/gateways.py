"""Gateway adapters for tests, selected with the PAYMENT_GATEWAY setting."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from contexts.kernel.transactions import in_transaction
from contexts.payments import public
from contexts.payments.gateway import GatewayError, GatewayResult
from contexts.payments.simulated_gateway import SimulatedGateway


class AbandonedWhileChargingGateway(SimulatedGateway):
    """The order gives its payment up while the charge request is in flight.

    The charge call runs outside any transaction of payments, so the saga's
    compensation (``refund_for_order``) can run meanwhile; here it runs at the
    worst moment, deterministically, just before the gateway charges.
    """

    def charge(
        self, *, idempotency_key: str, amount: Decimal, currency: str, token: str
    ) -> GatewayResult:
        order_id = UUID(idempotency_key.removeprefix("charge:"))
        public.refund_for_order(order_id=order_id)
        return super().charge(
            idempotency_key=idempotency_key, amount=amount, currency=currency, token=token
        )


class ChargedMeanwhileGateway(SimulatedGateway):
    """Another call for the same order captures it while this call is in flight.

    The other call (a redelivered step) runs to its end just before this one
    reaches the gateway; both send the order's key, so this one gets the same
    charge back and finds its outcome recorded already.
    """

    _inside_other_call = False

    def charge(
        self, *, idempotency_key: str, amount: Decimal, currency: str, token: str
    ) -> GatewayResult:
        if not ChargedMeanwhileGateway._inside_other_call:
            ChargedMeanwhileGateway._inside_other_call = True
            try:
                order_id = UUID(idempotency_key.removeprefix("charge:"))
                public.charge_for_order(
                    order_id=order_id, amount=amount, currency=currency, payment_token=token
                )
            finally:
                ChargedMeanwhileGateway._inside_other_call = False
        return super().charge(
            idempotency_key=idempotency_key, amount=amount, currency=currency, token=token
        )


class BrokenAdapter:
    """An adapter with a bug: it raises something that is not a GatewayError."""

    def charge(self, **kwargs) -> GatewayResult:
        raise RuntimeError("adapter bug")

    def refund(self, **kwargs) -> GatewayResult:
        raise RuntimeError("adapter bug")

    def lookup(self, **kwargs) -> GatewayResult | None:
        raise RuntimeError("adapter bug")


class TransactionProbeGateway(SimulatedGateway):
    """Records whether a transaction on payments' database was open when called."""

    in_transaction_when_called: list[bool] = []

    def charge(self, **kwargs) -> GatewayResult:
        self.in_transaction_when_called.append(in_transaction("payments"))
        return super().charge(**kwargs)

    def refund(self, **kwargs) -> GatewayResult:
        self.in_transaction_when_called.append(in_transaction("payments"))
        return super().refund(**kwargs)


class RefundAcceptingGateway(SimulatedGateway):
    """The simulated gateway after the PSP fixed a charge: ``tok_refund_reject`` refunds pass."""

    rejects_refunds = False


class UnreachableLookupGateway(SimulatedGateway):
    """Charges and refunds as usual, but the status lookup cannot reach the gateway."""

    def lookup(self, *, idempotency_key: str) -> GatewayResult | None:
        raise GatewayError("simulated: the gateway cannot be asked right now")
