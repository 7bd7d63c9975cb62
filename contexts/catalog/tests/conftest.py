"""Users and authenticated clients for the catalog's tests.

Accounts are made through Django's auth API (``get_user_model``), not the
users context's private modules; tokens are simplejwt's, as a client gets them.
"""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

_numbers = itertools.count()


@pytest.fixture
def make_user(db):
    def make(*, is_staff: bool = False, is_active: bool = True):
        n = next(_numbers)
        return get_user_model().objects.create_user(
            email=f"catalog-user-{n}@example.com",
            password=None,  # tokens only: no password hashing to wait for
            name=f"Catalog User {n}",
            is_staff=is_staff,
            is_active=is_active,
        )

    return make


@pytest.fixture
def make_auth_client():
    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def staff_user(make_user):
    return make_user(is_staff=True)


@pytest.fixture
def auth_client(make_auth_client, user) -> APIClient:
    return make_auth_client(user)
