"""The catalog's services: what they store and which events they publish."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from contexts.catalog import services
from contexts.catalog.errors import DuplicateSku, InvalidPrice, NotProductOwner, OwnerUnknown
from contexts.catalog.events import ProductCreated, ProductPriceChanged
from contexts.catalog.models import Product
from contexts.catalog.tests.factories import ProductFactory
from contexts.kernel.databases import database_for
from contexts.kernel.events import event_type
from contexts.kernel.models import OutboxMessage

pytestmark = pytest.mark.django_db


def outbox_events(event_cls):
    rows = OutboxMessage.objects.using(database_for("catalog")).filter(event_name=event_cls.name)
    return [
        event_type(row.event_name, row.event_version).from_payload(
            row.payload,
            event_id=row.event_id,
            occurred_at=row.occurred_at,
            correlation_id=row.correlation_id,
        )
        for row in rows.order_by("created_at")
    ]


def test_create_stores_the_product_and_publishes_product_created(user):
    product = services.product_create(
        owner_id=user.id, sku=" LAMP-1 ", name="Lamp", price=Decimal("49.90")
    )

    assert product.sku == "LAMP-1"
    assert product.currency == "USD"
    [event] = outbox_events(ProductCreated)
    assert event.product_id == product.id
    assert (event.sku, event.product_name, event.price) == ("LAMP-1", "Lamp", Decimal("49.90"))
    assert (event.currency, event.owner_id) == ("USD", user.id)


def test_create_for_an_owner_the_users_context_does_not_know_is_refused():
    with pytest.raises(OwnerUnknown):
        services.product_create(owner_id=uuid.uuid4(), sku="X", name="X", price=Decimal("1"))

    assert not Product.objects.exists()
    assert outbox_events(ProductCreated) == []


def test_create_with_a_taken_sku_raises_and_publishes_nothing_more(user):
    services.product_create(owner_id=user.id, sku="DUP", name="A", price=Decimal("1"))

    with pytest.raises(DuplicateSku):
        services.product_create(owner_id=user.id, sku="dup", name="B", price=Decimal("1"))

    assert Product.objects.count() == 1
    assert len(outbox_events(ProductCreated)) == 1


@pytest.mark.parametrize("price", [Decimal("0"), Decimal("-1"), Decimal("NaN")])
def test_create_rejects_a_price_not_above_zero(user, price):
    with pytest.raises(InvalidPrice):
        services.product_create(owner_id=user.id, sku="P", name="P", price=price)


def test_the_database_refuses_a_price_not_above_zero_too():
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        ProductFactory(price=Decimal("0"))


def test_a_price_change_publishes_product_price_changed():
    product = ProductFactory(price=Decimal("10.00"))

    services.product_update(product_id=product.id, actor_id=product.owner_id, price=Decimal("8.00"))

    [event] = outbox_events(ProductPriceChanged)
    assert (event.product_id, event.old_price, event.new_price) == (
        product.id,
        Decimal("10.00"),
        Decimal("8.00"),
    )


def test_an_update_without_a_price_change_publishes_nothing():
    product = ProductFactory(price=Decimal("10.00"))

    services.product_update(
        product_id=product.id, actor_id=product.owner_id, name="Renamed", price=Decimal("10")
    )

    product.refresh_from_db()
    assert product.name == "Renamed"
    assert outbox_events(ProductPriceChanged) == []


def test_only_the_owner_or_staff_may_change_or_delete():
    product = ProductFactory()
    stranger = uuid.uuid4()

    with pytest.raises(NotProductOwner):
        services.product_update(product_id=product.id, actor_id=stranger, name="x")
    with pytest.raises(NotProductOwner):
        services.product_delete(product_id=product.id, actor_id=stranger)

    services.product_delete(product_id=product.id, actor_id=stranger, actor_is_staff=True)
    assert not Product.objects.filter(pk=product.id).exists()
