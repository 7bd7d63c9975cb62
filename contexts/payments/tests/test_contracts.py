"""The payments contracts' status enum and what the public functions return of it."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from contexts.payments import contracts, models
from contexts.payments.public import charge_for_order, get_payment_for_order

pytestmark = pytest.mark.django_db


def test_the_status_enum_has_the_values_of_the_payment_tables_choices():
    # The contract is plain Python and the column's choices are Django's: held equal here.
    assert [member.value for member in contracts.PaymentStatus] == list(models.PaymentStatus.values)


def test_a_payment_is_returned_with_its_status_as_the_contract_enum():
    order_id = uuid.uuid4()
    charge_for_order(
        order_id=order_id, amount=Decimal("5.00"), currency="USD", payment_token="tok_visa"
    )

    payment = get_payment_for_order(order_id=order_id)

    assert payment is not None
    assert payment.status is contracts.PaymentStatus.CAPTURED


def test_a_declined_charge_raises_charge_declined_not_an_event_class():
    from contexts.payments import events

    with pytest.raises(contracts.ChargeDeclined):
        charge_for_order(
            order_id=uuid.uuid4(),
            amount=Decimal("5.00"),
            currency="USD",
            payment_token="tok_decline",
        )
    assert not issubclass(events.PaymentDeclined, Exception)
