"""A small shop to attack: an owner with a product, stock, an order and a notification,
another user, a staff member, and an API client for each (and for anonymous)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient

from contexts.notifications.tests.factories import NotificationFactory
from contexts.users.tests.factories import StaffUserFactory, UserFactory

ACTORS = ("anonymous", "other", "owner", "staff")
_skus = itertools.count()


@dataclass
class World:
    owner: Any
    other: Any
    staff: Any
    clients: dict[str, APIClient]
    product: dict[str, Any]
    order: dict[str, Any]
    notification_id: str
    extra: dict[str, Any] = field(default_factory=dict)

    def user(self, actor: str):
        return {"owner": self.owner, "other": self.other, "staff": self.staff}.get(actor)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Password hashing is slow on purpose; what is under test here is not the hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db, make_auth_client, create_product) -> World:
    owner, other, staff = UserFactory(), UserFactory(), StaffUserFactory()
    clients = {
        "anonymous": APIClient(),
        "other": make_auth_client(other),
        "owner": make_auth_client(owner),
        "staff": make_auth_client(staff),
    }
    product = create_product(clients["owner"], price="10.00", stock=5)
    placed = clients["owner"].post(
        "/api/orders",
        {"items": [{"product_id": product["id"], "quantity": 1}], "payment_token": "tok_ok"},
        format="json",
    )
    assert placed.status_code == 201, placed.content
    notification = NotificationFactory(user_id=owner.id)
    return World(
        owner=owner,
        other=other,
        staff=staff,
        clients=clients,
        product=product,
        order=placed.json(),
        notification_id=str(notification.id),
    )
