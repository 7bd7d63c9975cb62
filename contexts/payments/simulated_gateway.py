"""The built-in simulated gateway (the default ``PAYMENT_GATEWAY``).

It behaves like a remote PSP: it keeps its own ledger (the
``SimulatedGatewayOperation`` table, one row per idempotency key, in its own
transaction) so the same key never charges or refunds twice, across every
process that calls it. What it does is chosen by the card token:

=====================  =====================================================
token                  behaviour
=====================  =====================================================
``tok_decline…``       declined (``card_declined``)
``tok_fail_once…``     gateway error on the first request of a key, then approved
``tok_fail…``          gateway error, always
``tok_lost_reply…``    charges, then the reply is lost (GatewayTimeout) on the
                       first request of a key; a retry gets the same charge
``tok_hang_once…``     hangs past the timeout on the first request, then approved
``tok_hang…``          hangs past the timeout (GatewayTimeout), never charges
``tok_refund_fail_N…`` charge approved; its refund fails with a gateway error
                       on the first N requests of the refund's key
``tok_refund_reject…`` charge approved; every refund of that charge is
                       rejected (declined ``refund_rejected``)
empty                  declined (``invalid_token``)
anything else          approved
=====================  =====================================================

``lookup`` answers from the ledger what a key came to (the stored approved or
declined answer; None while nothing definitive happened), as a PSP's
"retrieve by idempotency key" call does.

A hang lasts ``PAYMENT_GATEWAY_TIMEOUT_SECONDS`` (the time a real client would
wait before giving up), so tests keep it short by setting that small.
"""

from __future__ import annotations

import enum
import re
import time
import uuid
from decimal import Decimal

from django.db.models import Sum

from contexts.kernel.bulk import upsert_rows
from contexts.kernel.transactions import atomic
from contexts.payments.gateway import (
    APPROVED,
    DECLINED,
    GatewayError,
    GatewayResult,
    GatewayTimeout,
    gateway_timeout_seconds,
)
from contexts.payments.models import SimulatedGatewayOperation as Operation

CONTEXT = "payments"
_REFUND_FAIL = re.compile(r"^tok_refund_fail_(\d+)")


class _Behaviour(enum.Enum):
    APPROVE = "approve"
    APPROVE_LOSE_REPLY = "approve, then lose the reply"
    DECLINE = "decline"
    FAIL = "fail"
    HANG = "hang"
    REPLAY = "replay the stored answer"


class SimulatedGateway:
    """A PaymentGateway whose outcomes are chosen by the token (see the module doc)."""

    #: Whether ``tok_refund_reject`` charges have their refunds rejected (a test
    #: adapter turns it off to stand for a PSP that has since fixed the charge).
    rejects_refunds = True

    def charge(
        self, *, idempotency_key: str, amount: Decimal, currency: str, token: str
    ) -> GatewayResult:
        if amount <= 0:
            return GatewayResult(status=DECLINED, reason="invalid_amount")
        # A first request's outcome follows from its token: it is stored with the row, so
        # a first charge costs the ledger one statement (its own transaction).
        request = Operation(
            idempotency_key=idempotency_key,
            kind=Operation.Kind.CHARGE,
            amount=amount,
            currency=currency,
            token=token,
            calls=1,
        )
        behaviour = _charge_behaviour(request, token)
        _settle_charge(request, behaviour)
        op = _claim(request)
        if op.calls == 1:
            return _answer(op, behaviour)
        if not _same_request(op, request, "token"):
            # A PSP refuses a key reused for a different request.
            return GatewayResult(status=DECLINED, reason="idempotency_key_reused")
        # A repeated request (counted by the claim): a stored outcome is replayed; one
        # that settles now is stored unless a concurrent repeat stored one first.
        behaviour = _charge_behaviour(op, token)
        if behaviour in _SETTLING:
            with atomic(CONTEXT):
                locked = Operation.objects.select_for_update().get(pk=op.pk)
                if locked.outcome is None:
                    _settle_charge(locked, behaviour)
                    _save(locked)
                else:
                    behaviour = _Behaviour.REPLAY
            op = locked
        return _answer(op, behaviour)

    def refund(
        self, *, idempotency_key: str, charge_reference: str, amount: Decimal, currency: str
    ) -> GatewayResult:
        if amount <= 0:
            return GatewayResult(status=DECLINED, reason="invalid_amount")
        request = Operation(
            idempotency_key=idempotency_key,
            kind=Operation.Kind.REFUND,
            amount=amount,
            currency=currency,
            charge_reference=charge_reference,
            calls=1,
        )
        with atomic(CONTEXT):
            op = _claim(request)
            if not _same_request(op, request, "charge_reference"):
                return GatewayResult(status=DECLINED, reason="idempotency_key_reused")
            if op.outcome is not None:
                behaviour = _Behaviour.REPLAY
            else:
                behaviour, reason = _refund_behaviour(op, rejects=self.rejects_refunds)
                if behaviour is _Behaviour.APPROVE:
                    _settle(op, Operation.Outcome.APPROVED, reference=f"re_{uuid.uuid4().hex}")
                    _save(op)
                elif behaviour is _Behaviour.DECLINE:
                    _settle(op, Operation.Outcome.DECLINED, reason=reason)
                    _save(op)
        return _answer(op, behaviour)

    def lookup(self, *, idempotency_key: str) -> GatewayResult | None:
        op = Operation.objects.filter(idempotency_key=idempotency_key).first()
        if op is None or op.outcome is None:
            return None
        if op.outcome == Operation.Outcome.APPROVED:
            return GatewayResult(status=APPROVED, reference=op.reference)
        return GatewayResult(status=DECLINED, reason=op.decline_reason)


def _claim(request: Operation) -> Operation:
    """The request's ledger row: ``request`` inserted (``calls`` 1) if its key is new, else
    the key's row with this request counted; locked until the transaction ends.
    One ``INSERT ... ON CONFLICT ... DO UPDATE ... RETURNING``."""
    [op] = upsert_rows(
        [request], unique="idempotency_key", increment=["calls"], refresh=["updated_at"]
    )
    return op


def _same_request(op: Operation, request: Operation, detail: str) -> bool:
    """Whether the key's row was stored for this request (its kind, amount and ``detail``)."""
    return all(
        getattr(op, name) == getattr(request, name)
        for name in ("kind", "amount", "currency", detail)
    )


def _save(op: Operation) -> None:
    op.save(update_fields=["outcome", "reference", "decline_reason", "updated_at"])


def _settle(op: Operation, outcome: str, *, reference: str = "", reason: str = "") -> None:
    op.outcome = outcome
    op.reference = reference
    op.decline_reason = reason


#: The charge behaviours that settle the request (its outcome is stored).
_SETTLING = (_Behaviour.APPROVE, _Behaviour.APPROVE_LOSE_REPLY, _Behaviour.DECLINE)


def _settle_charge(op: Operation, behaviour: _Behaviour) -> None:
    """Store on ``op`` (unsaved) the outcome ``behaviour`` settles, if it settles one."""
    if behaviour in (_Behaviour.APPROVE, _Behaviour.APPROVE_LOSE_REPLY):
        _settle(op, Operation.Outcome.APPROVED, reference=f"ch_{uuid.uuid4().hex}")
    elif behaviour is _Behaviour.DECLINE:
        _settle(
            op, Operation.Outcome.DECLINED, reason="card_declined" if op.token else "invalid_token"
        )


def _charge_behaviour(op: Operation, token: str) -> _Behaviour:
    if op.outcome is not None:
        return _Behaviour.REPLAY
    first = op.calls == 1
    if not token or token.startswith("tok_decline"):
        return _Behaviour.DECLINE
    if token.startswith("tok_fail_once"):
        return _Behaviour.FAIL if first else _Behaviour.APPROVE
    if token.startswith("tok_fail"):
        return _Behaviour.FAIL
    if token.startswith("tok_hang_once"):
        return _Behaviour.HANG if first else _Behaviour.APPROVE
    if token.startswith("tok_hang"):
        return _Behaviour.HANG
    if token.startswith("tok_lost_reply"):
        return _Behaviour.APPROVE_LOSE_REPLY if first else _Behaviour.APPROVE
    return _Behaviour.APPROVE


def _refund_behaviour(op: Operation, *, rejects: bool) -> tuple[_Behaviour, str]:
    """Whether an unsettled refund goes through, given the charge it refers to."""
    charge = (
        Operation.objects.select_for_update()
        .filter(
            kind=Operation.Kind.CHARGE,
            outcome=Operation.Outcome.APPROVED,
            reference=op.charge_reference,
        )
        .first()
    )
    if charge is None:
        return _Behaviour.DECLINE, "unknown_charge"
    if charge.currency != op.currency:
        return _Behaviour.DECLINE, "currency_mismatch"
    refunded = Operation.objects.filter(
        kind=Operation.Kind.REFUND,
        outcome=Operation.Outcome.APPROVED,
        charge_reference=op.charge_reference,
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    if refunded + op.amount > charge.amount:
        return _Behaviour.DECLINE, "amount_exceeds_charge"
    if rejects and charge.token.startswith("tok_refund_reject"):
        return _Behaviour.DECLINE, "refund_rejected"
    failing = _REFUND_FAIL.match(charge.token)
    if failing and op.calls <= int(failing.group(1)):
        return _Behaviour.FAIL, ""
    return _Behaviour.APPROVE, ""


def _answer(op: Operation, behaviour: _Behaviour) -> GatewayResult:
    """The reply, sent after the ledger committed (as a remote gateway would)."""
    if behaviour is _Behaviour.FAIL:
        raise GatewayError(f"simulated gateway error ({op.kind.lower()} request {op.calls})")
    if behaviour is _Behaviour.HANG:
        # The client gives up after its timeout; the gateway took no action.
        time.sleep(gateway_timeout_seconds())
        raise GatewayTimeout(f"no reply within {gateway_timeout_seconds()} s")
    if behaviour is _Behaviour.APPROVE_LOSE_REPLY:
        raise GatewayTimeout("the reply was lost after the charge was made")
    if op.outcome == Operation.Outcome.APPROVED:
        return GatewayResult(status=APPROVED, reference=op.reference)
    return GatewayResult(status=DECLINED, reason=op.decline_reason)
