"""The users context's internal API, in process: what other deployments call, and who may."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings

from contexts.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tokens():
    with override_settings(SERVICE_TOKENS=["current-token", "previous-token"]):
        yield


def user_url(user_id) -> str:
    return f"/internal/v1/users/users/{user_id}"


@pytest.mark.parametrize("token", ["current-token", "previous-token"])
def test_an_account_is_answered_as_the_contract_type(api_client, token):
    user = UserFactory(is_active=False)

    response = api_client.get(user_url(user.id), HTTP_AUTHORIZATION=f"Service {token}")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "is_active": False,
        "is_staff": False,
    }


def test_an_unknown_account_is_404_naming_the_error(api_client):
    response = api_client.get(user_url(uuid.uuid4()), HTTP_AUTHORIZATION="Service current-token")

    assert response.status_code == 404
    assert response.json() == {"detail": "No account has this id.", "error": "UserNotFound"}


@pytest.mark.parametrize(
    "authorization",
    [None, "Service wrong-token", "Service", "Service current-token extra", "Bearer current-token"],
)
def test_without_a_valid_service_token_it_is_401_json(api_client, authorization):
    user = UserFactory()
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = api_client.get(user_url(user.id), **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Service"
    assert set(response.json()) == {"detail"}


def test_the_customer_jwt_never_opens_it(auth_client, user):
    assert auth_client.get(user_url(user.id)).status_code == 401


def test_with_no_service_token_configured_nobody_gets_in(api_client):
    user = UserFactory()
    with override_settings(SERVICE_TOKENS=[]):
        response = api_client.get(user_url(user.id), HTTP_AUTHORIZATION="Service ")

    assert response.status_code == 401


def test_the_internal_schema_describes_it_and_the_public_one_does_not(api_client):
    internal = api_client.get(
        "/internal/schema/?format=json", HTTP_AUTHORIZATION="Service current-token"
    ).json()
    public = api_client.get("/api/schema/?format=json").json()

    operation = internal["paths"]["/internal/v1/users/users/{user_id}"]["get"]
    assert operation["operationId"] == "users_get_user"
    assert set(internal["components"]["schemas"]["UserInfo"]["properties"]) == {
        "id", "email", "name", "is_active", "is_staff",
    }  # fmt: skip
    assert [path for path in public["paths"] if path.startswith("/internal")] == []
    assert api_client.get("/internal/schema/").status_code == 401
