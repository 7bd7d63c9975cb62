"""Token safety: forged, tampered, expired and replayed tokens get 401.

Access tokens are HS256 JWTs checked by signature, algorithm, expiry and type;
refresh tokens rotate (each use answers a new one and blacklists the old);
tokens of a deactivated account stop working at once.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from contexts.users.models import User
from contexts.users.tests.factories import KNOWN_PASSWORD, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/users/me"
REFRESH = "/api/auth/token/refresh"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unb64json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def get_me(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(ME)


def refresh_with(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def assert_401(response) -> None:
    assert response.status_code == 401, response.content
    assert isinstance(response.json()["detail"], str)


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def access(user) -> str:
    return str(AccessToken.for_user(user))


def test_a_genuine_access_token_works(access, user):
    response = get_me(access)

    assert response.status_code == 200
    assert response.json()["id"] == str(user.id)


# --- forged and tampered access tokens ------------------------------------------------


def test_a_tampered_payload_is_401(access):
    """Another user's id in a genuine token's payload, signature kept."""
    header, payload, signature = access.split(".")
    staff = StaffUserFactory()
    claims = unb64json(payload) | {"user_id": str(staff.id)}

    assert_401(get_me(".".join([header, b64json(claims), signature])))


def test_a_tampered_signature_is_401(access):
    header, payload, signature = access.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    assert_401(get_me(".".join([header, payload, flipped])))


@pytest.mark.parametrize("signature", ["", "e30"])
def test_an_unsigned_alg_none_token_is_401(access, signature):
    _, payload, _ = access.split(".")
    header = b64json({"alg": "none", "typ": "JWT"})

    assert_401(get_me(f"{header}.{payload}.{signature}"))


def test_a_token_signed_with_another_key_is_401(access):
    claims = jwt.decode(access, options={"verify_signature": False})

    assert_401(get_me(jwt.encode(claims, "not-our-signing-key" * 2, algorithm="HS256")))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_a_token_with_another_algorithm_is_401_even_with_our_key(access, algorithm):
    claims = jwt.decode(access, options={"verify_signature": False})
    key = settings.SIMPLE_JWT["SIGNING_KEY"]

    assert_401(get_me(jwt.encode(claims, key, algorithm=algorithm)))


def test_an_expired_access_token_is_401(user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=1))

    assert_401(get_me(str(token)))


def test_an_access_token_without_expiry_is_401(access):
    claims = jwt.decode(access, options={"verify_signature": False})
    del claims["exp"]

    assert_401(get_me(jwt.encode(claims, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")))


def test_a_refresh_token_is_not_an_access_token(user):
    assert_401(get_me(str(RefreshToken.for_user(user))))


def test_a_token_of_an_unknown_user_is_401(user):
    token = str(AccessToken.for_user(user))
    User.objects.filter(pk=user.pk).delete()

    assert_401(get_me(token))


@pytest.mark.parametrize("token", ["", "x", "a.b.c", "a.b", "....", "é.é.é", "x" * 5000])
def test_garbage_is_401(token):
    assert_401(get_me(token))


# --- refresh tokens rotate ---------------------------------------------------------


def sign_in(user) -> dict:
    response = APIClient().post(
        "/api/auth/token", {"email": user.email, "password": KNOWN_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_refresh_answers_a_new_refresh_token_and_a_working_access_token(user):
    first = sign_in(user)

    response = refresh_with(first["refresh"])

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != first["refresh"]
    assert get_me(body["access"]).status_code == 200
    assert refresh_with(body["refresh"]).status_code == 200  # the new one works once too


def test_a_rotated_out_refresh_token_is_401(user):
    first = sign_in(user)
    assert refresh_with(first["refresh"]).status_code == 200

    assert_401(refresh_with(first["refresh"]))


def test_a_reused_refresh_token_does_not_invalidate_access_already_issued(user):
    """What a blacklist covers: refresh tokens (access tokens are short-lived and stateless)."""
    first = sign_in(user)
    rotated = refresh_with(first["refresh"]).json()
    refresh_with(first["refresh"])

    assert get_me(rotated["access"]).status_code == 200


def test_every_issued_refresh_token_is_recorded_and_a_used_one_blacklisted(user):
    first = sign_in(user)
    jti = RefreshToken(first["refresh"])["jti"]

    refresh_with(first["refresh"])

    assert OutstandingToken.objects.filter(jti=jti, user=user).exists()
    assert BlacklistedToken.objects.filter(token__jti=jti).exists()


def test_a_tampered_refresh_token_is_401(user):
    header, payload, signature = str(RefreshToken.for_user(user)).split(".")
    claims = unb64json(payload) | {"exp": unb64json(payload)["exp"] + 10**6}

    assert_401(refresh_with(".".join([header, b64json(claims), signature])))


def test_an_expired_refresh_token_is_401(user):
    token = RefreshToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(days=30), lifetime=timedelta(days=1))

    assert_401(refresh_with(str(token)))


def test_an_access_token_cannot_refresh(access):
    assert_401(refresh_with(access))


# --- deactivated accounts -----------------------------------------------------------


def test_a_deactivated_users_tokens_stop_working(user):
    tokens = sign_in(user)
    assert get_me(tokens["access"]).status_code == 200

    User.objects.filter(pk=user.pk).update(is_active=False)

    assert_401(get_me(tokens["access"]))
    assert_401(refresh_with(tokens["refresh"]))
    response = APIClient().post(
        "/api/auth/token", {"email": user.email, "password": KNOWN_PASSWORD}, format="json"
    )
    assert_401(response)
