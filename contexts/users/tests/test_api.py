"""The users and auth endpoints of docs/api.md, through HTTP."""

from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from contexts.kernel.databases import database_for
from contexts.kernel.models import OutboxMessage
from contexts.users.models import User
from contexts.users.tests.factories import KNOWN_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "correct-horse-battery"


def register(client: APIClient, **body):
    return client.post("/api/users", body, format="json")


def outbox_count() -> int:
    return (
        OutboxMessage.objects.using(database_for("users"))
        .filter(event_name="users.UserRegistered")
        .count()
    )


# --- POST /api/users -----------------------------------------------------------


def test_register_answers_201_with_id_email_and_name(api_client):
    response = register(api_client, email="New@Example.com", name="New User", password=STRONG)

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "email", "name"}
    assert body["email"] == "new@example.com"
    assert body["name"] == "New User"
    assert User.objects.filter(pk=body["id"]).exists()
    assert outbox_count() == 1


def test_register_ignores_a_bad_authorization_header(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")

    response = register(api_client, email="anon@example.com", name="Anon", password=STRONG)

    assert response.status_code == 201


def test_register_ignores_privilege_fields(api_client):
    response = register(
        api_client,
        email="sneaky@example.com",
        name="Sneaky",
        password=STRONG,
        is_staff=True,
        is_superuser=True,
        id=str(uuid4()),
    )

    assert response.status_code == 201
    user = User.objects.get(email="sneaky@example.com")
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert str(user.id) == response.json()["id"]


@pytest.mark.parametrize("email", ["dup@example.com", "DUP@example.com", "Dup@Example.COM"])
def test_register_an_already_registered_email_is_400(api_client, email):
    UserFactory(email="dup@example.com")

    response = register(api_client, email=email, name="Again", password=STRONG)

    assert response.status_code == 400
    assert "email" in response.json()
    assert outbox_count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "name": "N", "password": STRONG},
        {"email": "a" * 250 + "@example.com", "name": "N", "password": STRONG},
        {"email": "", "name": "N", "password": STRONG},
        {"email": 12345, "name": "N", "password": STRONG},
        {"email": ["a@example.com"], "name": "N", "password": STRONG},
        {"email": None, "name": "N", "password": STRONG},
        {"name": "N", "password": STRONG},
    ],
)
def test_register_an_invalid_email_is_400(api_client, body):
    response = api_client.post("/api/users", body, format="json")

    assert response.status_code == 400
    assert "email" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"email": "n@example.com", "password": STRONG},
        {"email": "n@example.com", "name": "", "password": STRONG},
        {"email": "n@example.com", "name": "   ", "password": STRONG},
        {"email": "n@example.com", "name": 42, "password": STRONG},
        {"email": "n@example.com", "name": {"first": "N"}, "password": STRONG},
        {"email": "n@example.com", "name": True, "password": STRONG},
        {"email": "n@example.com", "name": "x" * 151, "password": STRONG},
        {"email": "n@example.com", "name": "nul\x00byte", "password": STRONG},
    ],
)
def test_register_an_invalid_name_is_400(api_client, body):
    response = api_client.post("/api/users", body, format="json")

    assert response.status_code == 400
    assert "name" in response.json()


@pytest.mark.parametrize(
    "password",
    [
        "short1",  # too short
        "password123",  # too common
        "38291746502",  # entirely numeric
        "weakling.person",  # too similar to the email
        None,
        12345678901234,
        "x" * 129,
    ],
)
def test_register_a_weak_or_invalid_password_is_400(api_client, password):
    response = register(
        api_client, email="weakling.person@example.com", name="W", password=password
    )

    assert response.status_code == 400
    assert "password" in response.json()
    assert not User.objects.filter(email="weakling.person@example.com").exists()
    assert outbox_count() == 0


def test_register_a_missing_password_is_400(api_client):
    response = api_client.post("/api/users", {"email": "p@example.com", "name": "P"}, format="json")

    assert response.status_code == 400
    assert response.json()["password"]


@pytest.mark.parametrize("body", [[], "just a string", 7, None])
def test_register_a_body_that_is_not_an_object_is_400(api_client, body):
    response = api_client.post("/api/users", body, format="json")

    assert response.status_code == 400


def test_register_a_non_json_body_is_415(api_client):
    response = api_client.post(
        "/api/users", "email=a@example.com&name=A", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert "detail" in response.json()


def test_register_malformed_json_is_400(api_client):
    response = api_client.post("/api/users", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()


def test_register_non_standard_json_constants_are_400(api_client):
    body = '{"email": NaN, "name": Infinity, "password": "x"}'

    response = api_client.post("/api/users", body, content_type="application/json")

    assert response.status_code == 400


def test_registration_endpoint_accepts_only_post(api_client):
    assert api_client.get("/api/users").status_code == 405


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.dictionaries(
            st.sampled_from(["email", "name", "password", "is_staff", "x"]),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=300),
                st.lists(st.text(max_size=5), max_size=3),
                st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
            ),
        ),
        st.lists(st.integers(), max_size=3),
        st.text(max_size=20),
    )
)
def test_register_never_answers_5xx(api_client, body):
    response = api_client.post("/api/users", body, format="json")

    assert response.status_code in (201, 400), response.content
    assert isinstance(response.json(), dict)


# --- POST /api/auth/token ----------------------------------------------------------


def obtain(client: APIClient, **body):
    return client.post("/api/auth/token", body, format="json")


def test_token_answers_an_access_and_a_refresh_token(api_client):
    user = UserFactory(email="login@example.com")

    response = obtain(api_client, email="login@example.com", password=KNOWN_PASSWORD)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh"}
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert api_client.get("/api/users/me").json()["id"] == str(user.id)


def test_token_matches_the_email_case_insensitively(api_client):
    UserFactory(email="mixed@example.com")

    response = obtain(api_client, email="  MiXeD@Example.COM", password=KNOWN_PASSWORD)

    assert response.status_code == 200


def test_a_registered_user_can_sign_in(api_client):
    register(api_client, email="Fresh@Example.com", name="Fresh", password=STRONG)

    response = obtain(api_client, email="fresh@example.com", password=STRONG)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("known@example.com", "wrong-password-123"),
        ("known@example.com", ""),
        ("unknown@example.com", KNOWN_PASSWORD),
        ("not an email", KNOWN_PASSWORD),
    ],
)
def test_token_with_wrong_credentials_is_401(api_client, email, password):
    UserFactory(email="known@example.com")

    response = obtain(api_client, email=email, password=password)

    if password == "":
        assert response.status_code == 400  # blank is invalid input, not a guess
    else:
        assert response.status_code == 401
        assert "detail" in response.json()


def test_token_for_an_inactive_user_is_401(api_client):
    UserFactory(email="gone@example.com", is_active=False)

    response = obtain(api_client, email="gone@example.com", password=KNOWN_PASSWORD)

    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "known@example.com"},
        {"password": KNOWN_PASSWORD},
        {"email": 5, "password": KNOWN_PASSWORD},
        {"email": "known@example.com", "password": ["x"]},
        {"email": None, "password": KNOWN_PASSWORD},
        {"email": "known@example.com", "password": "x" * 129},
        [],
    ],
)
def test_token_with_missing_or_mistyped_fields_is_400(api_client, body):
    response = api_client.post("/api/auth/token", body, format="json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)


def test_token_with_a_non_json_body_is_415(api_client):
    response = api_client.post(
        "/api/auth/token", "email=a&password=b", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415


# --- POST /api/auth/token/refresh ------------------------------------------------


def test_refresh_answers_a_new_access_token(api_client):
    user = UserFactory()
    refresh = RefreshToken.for_user(user)

    response = api_client.post("/api/auth/token/refresh", {"refresh": str(refresh)}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh"}  # refresh tokens rotate
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert api_client.get("/api/users/me").status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "", "x" * 2048, "x" * 2049])
def test_refresh_with_an_invalid_token_is_401_or_400(api_client, token):
    response = api_client.post("/api/auth/token/refresh", {"refresh": token}, format="json")

    # Blank or longer than any token of ours: invalid input; otherwise not a valid token.
    assert response.status_code == (400 if token == "" or len(token) > 2048 else 401)
    assert isinstance(response.json(), dict)


def test_refresh_with_an_access_token_is_401(api_client):
    access = RefreshToken.for_user(UserFactory()).access_token

    response = api_client.post("/api/auth/token/refresh", {"refresh": str(access)}, format="json")

    assert response.status_code == 401


def test_refresh_for_a_deactivated_user_is_401(api_client):
    user = UserFactory()
    refresh = str(RefreshToken.for_user(user))
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json")

    assert response.status_code == 401


def test_refresh_for_a_deleted_user_is_401(api_client):
    user = UserFactory()
    refresh = str(RefreshToken.for_user(user))
    User.objects.filter(pk=user.pk).delete()

    response = api_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize("body", [{}, {"refresh": 123}, {"refresh": None}, []])
def test_refresh_with_missing_or_mistyped_fields_is_400(api_client, body):
    response = api_client.post("/api/auth/token/refresh", body, format="json")

    assert response.status_code == 400


def test_refresh_with_a_non_json_body_is_415(api_client):
    response = api_client.post("/api/auth/token/refresh", "refresh=x", content_type="text/plain")

    assert response.status_code == 415


# --- GET/PATCH /api/users/me ---------------------------------------------------------


def test_me_shows_the_account_with_profile_and_preferences(auth_client, user):
    response = auth_client.get("/api/users/me")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "profile": {
            "phone": "",
            "bio": "",
            "avatar_url": "",
            "address_line1": "",
            "address_line2": "",
            "city": "",
            "postal_code": "",
            "country": "",
        },
        "preferences": {"marketing_emails": False, "order_updates": True, "language": "en"},
    }


def test_me_of_an_account_without_profile_rows_shows_defaults(make_auth_client):
    bare = User.objects.create(email="bare@example.com", name="Bare")

    response = make_auth_client(bare).get("/api/users/me")

    assert response.status_code == 200
    assert response.json()["preferences"]["order_updates"] is True


@pytest.mark.parametrize("header", [None, "Bearer garbage", "Token abc", "Bearer"])
def test_me_without_a_valid_token_is_401(api_client, header):
    if header:
        api_client.credentials(HTTP_AUTHORIZATION=header)

    assert api_client.get("/api/users/me").status_code == 401
    response = api_client.patch("/api/users/me", {"name": "X"}, format="json")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_me_with_a_token_of_a_deactivated_user_is_401(make_auth_client):
    user = UserFactory()
    client = make_auth_client(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert client.get("/api/users/me").status_code == 401


def test_me_with_a_refresh_token_is_401(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user)}")

    assert api_client.get("/api/users/me").status_code == 401


def test_patch_me_changes_name_profile_and_preferences_partially(auth_client, user):
    response = auth_client.patch(
        "/api/users/me",
        {
            "name": "Renamed",
            "profile": {"city": "Lisbon", "country": "pt", "phone": "+351 21 000 0000"},
            "preferences": {"marketing_emails": True, "language": "pt"},
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["email"] == user.email
    assert body["profile"]["city"] == "Lisbon"
    assert body["profile"]["country"] == "PT"
    assert body["profile"]["bio"] == ""
    assert body["preferences"] == {
        "marketing_emails": True,
        "order_updates": True,
        "language": "pt",
    }
    assert auth_client.get("/api/users/me").json() == body


def test_patch_me_keeps_fields_not_sent(auth_client):
    auth_client.patch("/api/users/me", {"profile": {"city": "Rome", "bio": "hi"}}, format="json")

    response = auth_client.patch("/api/users/me", {"profile": {"bio": ""}}, format="json")

    assert response.status_code == 200
    assert response.json()["profile"]["city"] == "Rome"
    assert response.json()["profile"]["bio"] == ""


def test_patch_me_ignores_read_only_fields(auth_client, user):
    response = auth_client.patch(
        "/api/users/me",
        {
            "id": str(uuid4()),
            "email": "hijack@example.com",
            "is_staff": True,
            "is_superuser": True,
            "is_active": False,
            "password": "new-password-123456",
        },
        format="json",
    )

    assert response.status_code == 200
    stored = User.objects.get(pk=user.pk)
    assert response.json()["id"] == str(user.id)
    assert stored.email == user.email
    assert (stored.is_staff, stored.is_superuser, stored.is_active) == (False, False, True)
    assert stored.check_password(KNOWN_PASSWORD)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 3}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 151}, "name"),
        ({"profile": {"phone": "call me"}}, "profile"),
        ({"profile": {"country": "Germany"}}, "profile"),
        ({"profile": {"country": "1A"}}, "profile"),
        ({"profile": {"avatar_url": "not a url"}}, "profile"),
        ({"profile": {"bio": "x" * 501}}, "profile"),
        ({"profile": {"city": 7}}, "profile"),
        ({"profile": {"city": None}}, "profile"),
        ({"profile": "Lisbon"}, "profile"),
        ({"profile": ["city"]}, "profile"),
        ({"profile": None}, "profile"),
        ({"preferences": {"marketing_emails": "true"}}, "preferences"),
        ({"preferences": {"order_updates": 1}}, "preferences"),
        ({"preferences": {"language": "xx"}}, "preferences"),
        ({"preferences": {"language": 1}}, "preferences"),
        ({"preferences": None}, "preferences"),
    ],
)
def test_patch_me_with_invalid_fields_is_400_and_changes_nothing(auth_client, user, body, field):
    before = auth_client.get("/api/users/me").json()

    response = auth_client.patch("/api/users/me", body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert auth_client.get("/api/users/me").json() == before


@pytest.mark.parametrize("body", [[], "name", 5])
def test_patch_me_with_a_body_that_is_not_an_object_is_400(auth_client, body):
    response = auth_client.patch("/api/users/me", body, format="json")

    assert response.status_code == 400


def test_patch_me_with_a_non_json_body_is_415(auth_client):
    response = auth_client.patch("/api/users/me", "name=x", content_type="text/plain")

    assert response.status_code == 415


def test_me_does_not_allow_put_or_delete(auth_client):
    assert auth_client.put("/api/users/me", {"name": "x"}, format="json").status_code == 405
    assert auth_client.delete("/api/users/me").status_code == 405


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.dictionaries(
        st.sampled_from(["name", "profile", "preferences", "email"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(max_size=200),
            st.dictionaries(
                st.sampled_from(
                    ["phone", "bio", "avatar_url", "country", "city", "language", "order_updates"]
                ),
                st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40)),
                max_size=4,
            ),
        ),
    )
)
def test_patch_me_never_answers_5xx(auth_client, body):
    response = auth_client.patch("/api/users/me", body, format="json")

    assert response.status_code in (200, 400), response.content


# --- GET /api/users/{id} ---------------------------------------------------------------


def test_user_detail_shows_id_and_name_only(auth_client):
    other = UserFactory(name="Other Person")

    response = auth_client.get(f"/api/users/{other.id}")

    assert response.status_code == 200
    assert response.json() == {"id": str(other.id), "name": "Other Person"}


def test_user_detail_of_an_unknown_user_is_404(auth_client):
    response = auth_client.get(f"/api/users/{uuid4()}")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_user_detail_of_an_inactive_user_is_404(auth_client):
    inactive = UserFactory(is_active=False)

    assert auth_client.get(f"/api/users/{inactive.id}").status_code == 404


@pytest.mark.parametrize("user_id", ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"])
def test_user_detail_of_a_malformed_id_is_a_json_404(auth_client, user_id):
    response = auth_client.get(f"/api/users/{user_id}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_user_detail_without_a_token_is_401(api_client, user):
    assert api_client.get(f"/api/users/{user.id}").status_code == 401


# --- OpenAPI ---------------------------------------------------------------------------


def test_every_users_endpoint_is_in_the_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    paths = schema["paths"]
    assert set(paths["/api/users"]) >= {"post"}
    assert set(paths["/api/users/me"]) >= {"get", "patch"}
    assert set(paths["/api/users/{user_id}"]) >= {"get"}
    assert "post" in paths["/api/auth/token"]
    assert "post" in paths["/api/auth/token/refresh"]
    register_op = paths["/api/users"]["post"]
    assert {"201", "400"} <= set(register_op["responses"])
    assert {"200", "401"} <= set(paths["/api/auth/token"]["post"]["responses"])
    assert "404" in paths["/api/users/{user_id}"]["get"]["responses"]
