"""The orders contracts' enums and what ``get_order`` returns of them."""

from __future__ import annotations

import pytest

from contexts.orders import contracts, models


@pytest.mark.parametrize(
    ("contract", "choices"),
    [
        (contracts.OrderStatus, models.OrderStatus),
        (contracts.CancelReason, models.CancelReason),
    ],
)
def test_a_contract_enum_has_the_values_of_its_tables_choices(contract, choices):
    # The contract is plain Python and the column's choices are Django's: one list each,
    # held equal here so that a value added to one cannot be missing from the other.
    assert [member.value for member in contract] == list(choices.values)


def test_a_contract_enum_compares_equal_to_the_stored_string():
    assert contracts.CancelReason.CUSTOMER_CANCELLED == "CUSTOMER_CANCELLED"
    assert contracts.OrderStatus("CONFIRMED") is contracts.OrderStatus.CONFIRMED
