"""Mass assignment: fields a client must not set are ignored or rejected.

``status``, ``total``, ``owner_id``/``user_id``, prices in items, ``id``,
``is_staff``, ``email`` on PATCH me, ``currency`` and ``created_at`` sent by a
client never reach the stored state: server-side values win. Each test reads
the stored rows afterwards, not just the response.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.conf import settings

from contexts.catalog.models import Product
from contexts.inventory.models import StockLevel
from contexts.orders.models import Order, OrderItem
from contexts.users.models import User
from contexts.users.tests.factories import KNOWN_PASSWORD

pytestmark = pytest.mark.django_db

LONG_AGO = "2001-01-01T00:00:00Z"
FOREIGN_CURRENCY = "XTS" if settings.SHOP_CURRENCY != "XTS" else "XXX"


def accepted_or_rejected(response, ok: int) -> None:
    """Ignoring the field (``ok``) or rejecting the request (400) are both safe answers."""
    assert response.status_code in {ok, 400}, response.content


# --- users ------------------------------------------------------------------------------


def test_registration_cannot_grant_privileges_or_choose_the_id(api_client):
    chosen_id = uuid.uuid4()

    response = api_client.post(
        "/api/users",
        {
            "email": "mass@example.com",
            "name": "Mass",
            "password": "correct-horse-battery",
            "id": str(chosen_id),
            "is_staff": True,
            "is_superuser": True,
            "is_active": False,
            "created_at": LONG_AGO,
            "date_joined": LONG_AGO,
        },
        format="json",
    )

    accepted_or_rejected(response, 201)
    stored = User.objects.filter(email="mass@example.com").first()
    if response.status_code == 201:
        assert stored.id != chosen_id
        assert (stored.is_staff, stored.is_superuser, stored.is_active) == (False, False, True)
        assert stored.date_joined.year > 2001
    else:
        assert stored is None


def test_patch_me_cannot_change_email_id_privileges_or_password(world):
    owner = world.owner
    before = User.objects.get(pk=owner.pk)

    response = world.clients["owner"].patch(
        "/api/users/me",
        {
            "id": str(uuid.uuid4()),
            "email": "taken-over@example.com",
            "is_staff": True,
            "is_superuser": True,
            "is_active": False,
            "password": "another-password-123",
            "created_at": LONG_AGO,
            "date_joined": LONG_AGO,
            "profile": {"user_id": str(world.other.id), "id": 1, "city": "Oslo"},
            "preferences": {"user_id": str(world.other.id), "created_at": LONG_AGO},
        },
        format="json",
    )

    accepted_or_rejected(response, 200)
    stored = User.objects.get(pk=owner.pk)
    assert stored.email == before.email
    assert (stored.is_staff, stored.is_superuser, stored.is_active) == (False, False, True)
    assert stored.date_joined == before.date_joined
    assert stored.check_password(KNOWN_PASSWORD)
    # The other user's profile is untouched whatever the nested ids said.
    other_me = world.clients["other"].get("/api/users/me").json()
    assert other_me["profile"]["city"] == ""
    assert world.clients["owner"].get("/api/users/me").json()["id"] == str(owner.id)


# --- catalog ------------------------------------------------------------------------------


def test_creating_a_product_ignores_owner_id_currency_id_and_created_at(world):
    chosen_id = uuid.uuid4()

    response = world.clients["owner"].post(
        "/api/products",
        {
            "sku": "MASS-1",
            "name": "Mass product",
            "price": "5.00",
            "id": str(chosen_id),
            "owner_id": str(world.other.id),
            "currency": FOREIGN_CURRENCY,
            "created_at": LONG_AGO,
        },
        format="json",
    )

    accepted_or_rejected(response, 201)
    stored = Product.objects.filter(sku="MASS-1").first()
    if response.status_code == 201:
        assert stored.id != chosen_id
        assert stored.owner_id == world.owner.id
        assert stored.currency == settings.SHOP_CURRENCY
        assert stored.created_at.year > 2001
    else:
        assert stored is None


def test_updating_a_product_changes_only_name_description_and_price(world):
    product_id = world.product["id"]
    before = Product.objects.get(pk=product_id)

    response = world.clients["owner"].patch(
        f"/api/products/{product_id}",
        {
            "name": "Renamed",
            "id": str(uuid.uuid4()),
            "sku": "HIJACKED-SKU",
            "owner_id": str(world.other.id),
            "currency": FOREIGN_CURRENCY,
            "created_at": LONG_AGO,
        },
        format="json",
    )

    accepted_or_rejected(response, 200)
    stored = Product.objects.get(pk=product_id)
    assert (stored.sku, stored.owner_id, stored.currency, stored.created_at) == (
        before.sku,
        before.owner_id,
        before.currency,
        before.created_at,
    )
    assert stored.name in {"Renamed", before.name}


# --- inventory ----------------------------------------------------------------------------


def test_a_stock_adjustment_applies_only_the_delta(world):
    product_id = world.product["id"]
    before = StockLevel.objects.get(product_id=product_id)

    response = world.clients["owner"].post(
        f"/api/inventory/{product_id}/adjust",
        {
            "delta": 2,
            "on_hand": 10_000,
            "reserved": 0,
            "available": 10_000,
            "product_id": str(uuid.uuid4()),
        },
        format="json",
    )

    accepted_or_rejected(response, 200)
    stored = StockLevel.objects.get(product_id=product_id)
    expected_on_hand = before.on_hand + (2 if response.status_code == 200 else 0)
    assert (stored.on_hand, stored.reserved) == (expected_on_hand, before.reserved)


# --- orders -------------------------------------------------------------------------------


def test_placing_an_order_ignores_status_total_owner_prices_currency_and_dates(world):
    chosen_id = uuid.uuid4()

    response = world.clients["other"].post(
        "/api/orders",
        {
            "id": str(chosen_id),
            "user_id": str(world.owner.id),
            "owner_id": str(world.owner.id),
            "status": "CONFIRMED",
            "cancel_reason": "CUSTOMER_CANCELLED",
            "total": "0.01",
            "currency": FOREIGN_CURRENCY,
            "created_at": LONG_AGO,
            "updated_at": LONG_AGO,
            "items": [
                {
                    "product_id": world.product["id"],
                    "quantity": 2,
                    "price": "0.01",
                    "unit_price": "0.01",
                    "line_total": "0.02",
                    "sku": "FAKE",
                    "name": "Fake",
                }
            ],
            "payment_token": "tok_ok",
        },
        format="json",
    )

    accepted_or_rejected(response, 201)
    if response.status_code == 400:
        assert not Order.objects.filter(user_id=world.other.id).exists()
        return
    order = Order.objects.get(pk=response.json()["id"])
    assert order.id != chosen_id
    assert order.user_id == world.other.id
    assert order.status == "PENDING"
    assert order.cancel_reason is None
    assert order.currency == settings.SHOP_CURRENCY
    assert order.created_at.year > 2001
    catalog_price = Decimal(world.product["price"])
    assert order.total == catalog_price * 2
    (item,) = OrderItem.objects.filter(order=order)
    assert (item.unit_price, item.sku, item.name) == (
        catalog_price,
        world.product["sku"],
        world.product["name"],
    )
    assert response.json()["total"] == str(catalog_price * 2)
    # Nothing landed on the owner whose id was sent.
    assert not Order.objects.filter(user_id=world.owner.id).exclude(pk=world.order["id"]).exists()


def test_cancelling_ignores_a_body(world):
    response = world.clients["owner"].post(
        f"/api/orders/{world.order['id']}/cancel",
        {"status": "CANCELLED", "cancel_reason": "OUT_OF_STOCK", "total": "0.00"},
        format="json",
    )

    assert response.status_code == 409  # still PENDING: nothing to cancel yet
    order = Order.objects.get(pk=world.order["id"])
    assert (order.status, order.cancel_reason) == ("PENDING", None)
    assert str(order.total) == world.order["total"]
