"""The inventory's event handlers, called directly (delivery is the event bus's job)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from contexts.catalog.events import ProductCreated
from contexts.inventory.handlers import create_stock_level_for_new_product
from contexts.inventory.models import StockLevel
from contexts.inventory.public import get_stock_level
from contexts.inventory.services import stock_adjust
from contexts.kernel.bus import subscriptions_for


def product_created(product_id):
    return ProductCreated(
        product_id=product_id,
        sku="SKU",
        product_name="Name",
        price=Decimal("1.00"),
        currency="USD",
        owner_id=uuid.uuid4(),
    )


def test_the_handler_is_subscribed_on_the_inventory_queue():
    [subscription] = [
        s
        for s in subscriptions_for(ProductCreated.name, ProductCreated.version)
        if s.handler is create_stock_level_for_new_product
    ]

    assert subscription.context == "inventory"


@pytest.mark.django_db
def test_a_new_product_gets_a_zero_stock_row_once():
    product_id = uuid.uuid4()
    event = product_created(product_id)

    create_stock_level_for_new_product(event)
    create_stock_level_for_new_product(event)  # redelivered

    assert StockLevel.objects.filter(product_id=product_id).count() == 1
    assert get_stock_level(product_id).on_hand == 0


@pytest.mark.django_db
def test_a_late_event_does_not_reset_stock_already_adjusted():
    product_id = uuid.uuid4()
    stock_adjust(product_id=product_id, delta=4)

    create_stock_level_for_new_product(product_created(product_id))

    assert get_stock_level(product_id).on_hand == 4
