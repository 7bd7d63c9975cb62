"""The simulated gateway behaves like a remote PSP that dedupes by idempotency key."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contexts.payments.gateway import GatewayError, GatewayTimeout, get_gateway
from contexts.payments.models import SimulatedGatewayOperation as Operation
from contexts.payments.simulated_gateway import SimulatedGateway

pytestmark = pytest.mark.django_db

AMOUNT = Decimal("12.50")


def charge(key: str, token: str, amount: Decimal = AMOUNT):
    return SimulatedGateway().charge(
        idempotency_key=key, amount=amount, currency="USD", token=token
    )


def refund(key: str, charge_reference: str, amount: Decimal = AMOUNT):
    return SimulatedGateway().refund(
        idempotency_key=key, charge_reference=charge_reference, amount=amount, currency="USD"
    )


def approved_charges() -> list[Operation]:
    return list(Operation.objects.filter(kind="CHARGE", outcome="APPROVED"))


def test_the_simulated_gateway_is_the_default_adapter():
    assert isinstance(get_gateway(), SimulatedGateway)


def test_an_ordinary_token_is_charged_once_per_key():
    first = charge("k1", "tok_visa")
    again = charge("k1", "tok_visa")

    assert first.approved and first.reference.startswith("ch_")
    assert again == first
    [entry] = approved_charges()
    assert (entry.reference, entry.amount, entry.calls) == (first.reference, AMOUNT, 2)


def test_another_key_is_another_charge():
    assert charge("k1", "tok_visa").reference != charge("k2", "tok_visa").reference
    assert len(approved_charges()) == 2


@pytest.mark.parametrize("token", ["tok_decline", "tok_declined_insufficient_funds"])
def test_tokens_starting_tok_decline_are_declined(token):
    result = charge("k", token)

    assert (result.status, result.reason, result.reference) == ("declined", "card_declined", "")
    assert charge("k", token) == result
    assert approved_charges() == []


def test_an_empty_token_is_declined():
    result = charge("k", "")

    assert (result.status, result.reason) == ("declined", "invalid_token")


def test_tok_fail_once_fails_the_first_request_of_a_key_then_charges():
    with pytest.raises(GatewayError):
        charge("k", "tok_fail_once")
    result = charge("k", "tok_fail_once")

    assert result.approved
    assert charge("k", "tok_fail_once") == result
    assert [c.reference for c in approved_charges()] == [result.reference]


@pytest.mark.parametrize("token", ["tok_fail", "tok_failing_card"])
def test_tok_fail_always_fails(token):
    for _ in range(3):
        with pytest.raises(GatewayError) as raised:
            charge("k", token)
        assert not isinstance(raised.value, GatewayTimeout)

    assert approved_charges() == []
    assert Operation.objects.get(idempotency_key="k").calls == 3


def test_tok_lost_reply_charges_then_loses_the_first_reply():
    with pytest.raises(GatewayTimeout):
        charge("k", "tok_lost_reply")
    [made] = approved_charges()  # the money was taken although no reply came

    result = charge("k", "tok_lost_reply")

    assert result.approved and result.reference == made.reference
    assert len(approved_charges()) == 1


def test_tok_hang_times_out_and_never_charges(settings):
    settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS = 0.05

    for _ in range(2):
        with pytest.raises(GatewayTimeout):
            charge("k", "tok_hang")

    assert approved_charges() == []


def test_tok_hang_once_times_out_then_charges(settings):
    settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS = 0.05

    with pytest.raises(GatewayTimeout):
        charge("k", "tok_hang_once")

    assert charge("k", "tok_hang_once").approved
    assert len(approved_charges()) == 1


def test_a_key_reused_for_another_request_is_refused():
    charge("k", "tok_visa")

    result = charge("k", "tok_visa", amount=Decimal("99.00"))

    assert (result.status, result.reason) == ("declined", "idempotency_key_reused")
    assert len(approved_charges()) == 1


def test_a_refund_is_made_once_per_key():
    made = charge("c", "tok_visa")

    first = refund("r", made.reference)
    again = refund("r", made.reference)

    assert first.approved and first.reference.startswith("re_")
    assert again == first
    assert Operation.objects.filter(kind="REFUND", outcome="APPROVED").count() == 1


def test_tok_refund_fail_n_fails_the_first_n_refund_requests():
    made = charge("c", "tok_refund_fail_2")
    assert made.approved

    for _ in range(2):
        with pytest.raises(GatewayError):
            refund("r", made.reference)

    assert refund("r", made.reference).approved


def test_a_refund_of_an_unknown_charge_is_declined():
    result = refund("r", "ch_unknown")

    assert (result.status, result.reason) == ("declined", "unknown_charge")


def test_a_charge_is_never_refunded_beyond_its_amount():
    made = charge("c", "tok_visa")
    assert refund("r1", made.reference).approved

    result = refund("r2", made.reference)

    assert (result.status, result.reason) == ("declined", "amount_exceeds_charge")


def test_non_positive_amounts_are_declined_without_a_ledger_entry():
    assert charge("k", "tok_visa", amount=Decimal("0")).reason == "invalid_amount"
    assert not Operation.objects.exists()


TOKENS = st.sampled_from(
    ["tok_visa", "tok_decline", "tok_fail", "tok_fail_once", "tok_lost_reply", ""]
)


@hypothesis_settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=TOKENS, requests=st.integers(min_value=1, max_value=5))
def test_any_number_of_requests_with_one_key_charges_at_most_once(token, requests):
    key = f"charge:{uuid.uuid4()}"
    references = set()
    for _ in range(requests):
        try:
            result = charge(key, token)
        except GatewayError:
            continue
        if result.approved:
            references.add(result.reference)

    ledger = Operation.objects.filter(idempotency_key=key, outcome="APPROVED")
    assert len(references) <= 1
    assert ledger.count() <= 1
    assert {entry.reference for entry in ledger} >= references


def test_tok_refund_reject_charges_then_rejects_every_refund():
    made = charge("c", "tok_refund_reject")
    assert made.approved

    first = refund("r", made.reference)
    other_key = refund("r2", made.reference)

    assert (first.status, first.reason) == ("declined", "refund_rejected")
    assert (other_key.status, other_key.reason) == ("declined", "refund_rejected")
    assert refund("r", made.reference) == first  # the answer is stored with its key


def test_lookup_answers_what_a_key_came_to_from_the_ledger(settings):
    settings.PAYMENT_GATEWAY_TIMEOUT_SECONDS = 0.01
    gateway = SimulatedGateway()
    with pytest.raises(GatewayTimeout):
        charge("lost", "tok_lost_reply")
    charge("declined", "tok_decline")
    with pytest.raises(GatewayTimeout):
        charge("hung", "tok_hang")

    found = gateway.lookup(idempotency_key="lost")

    assert found.approved
    assert found.reference == Operation.objects.get(idempotency_key="lost").reference
    assert gateway.lookup(idempotency_key="declined").reason == "card_declined"
    assert gateway.lookup(idempotency_key="hung") is None  # it took no action
    assert gateway.lookup(idempotency_key="never-sent") is None
    # Asking charges nothing and counts no request.
    assert Operation.objects.get(idempotency_key="lost").calls == 1
    assert len(approved_charges()) == 1
