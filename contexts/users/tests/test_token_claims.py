"""Access tokens carry the staff flag, as deployments without users read it (token users)."""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from contexts.kernel.authentication import TokenUser
from contexts.users.tests.factories import KNOWN_PASSWORD, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db


def sign_in(api_client, user) -> dict[str, str]:
    response = api_client.post(
        "/api/auth/token", {"email": user.email, "password": KNOWN_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("factory", [UserFactory, StaffUserFactory])
def test_a_token_user_is_the_account_as_its_token_says(api_client, factory):
    account = factory()

    user = TokenUser(AccessToken(sign_in(api_client, account)["access"]))

    assert user.id == account.id  # a UUID, as the services compare owners
    assert user.pk == account.id
    assert user.is_staff is account.is_staff
    assert user.is_authenticated


def test_a_refresh_reads_the_staff_flag_again(api_client):
    account = UserFactory()
    tokens = sign_in(api_client, account)
    account.is_staff = True
    account.save(update_fields=["is_staff"])

    refreshed = api_client.post(
        "/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )

    assert AccessToken(tokens["access"])["is_staff"] is False
    assert AccessToken(refreshed.json()["access"])["is_staff"] is True
