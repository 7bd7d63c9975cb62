"""Abuse limits (docs/reliability.md#floods): throttles, login lockout, page-size cap, body size.

Throttle rates are read by DRF when its throttle classes are imported, so the
tests patch the rates table small; ``API_THROTTLE`` is read at run time. The
root conftest clears the cache (throttle counters, lockouts) before each test.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from contexts.catalog.models import Product
from contexts.catalog.tests.factories import ProductFactory
from contexts.notifications.tests.factories import NotificationFactory
from contexts.orders.models import OrderSummary
from contexts.users import lockout
from contexts.users.models import User
from contexts.users.tests.factories import KNOWN_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def throttled(settings, monkeypatch):
    """``throttled(anon=..., user=..., auth=...)``: turn throttling on with these rates."""

    def configure(
        *, anon: str = "1000/minute", user: str = "1000/minute", auth: str = "1000/minute"
    ):
        settings.API_THROTTLE = True
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {"anon": anon, "user": user, "auth": auth}
        )

    return configure


def assert_throttled(response, *, within: int) -> None:
    assert response.status_code == 429, response.content
    assert 1 <= int(response.headers["Retry-After"]) <= within
    assert isinstance(response.json()["detail"], str)


# --- throttles ------------------------------------------------------------------------


def test_an_anonymous_burst_gets_429_with_retry_after(throttled, api_client):
    throttled(anon="3/minute")

    statuses = [api_client.get("/api/products").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]

    assert_throttled(api_client.get("/api/products"), within=60)


def test_anonymous_limits_are_per_ip_and_x_forwarded_for_does_not_reset_them(throttled, api_client):
    throttled(anon="2/minute")
    for n in range(2):
        assert (
            api_client.get("/api/products", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code == 200
        )

    # A client cannot pick a new identity per request with a forged header...
    assert_throttled(api_client.get("/api/products", HTTP_X_FORWARDED_FOR="10.9.9.9"), within=60)
    # ...while another address has its own allowance.
    assert api_client.get("/api/products", REMOTE_ADDR="192.0.2.7").status_code == 200


def test_a_users_burst_gets_429_and_other_users_are_unaffected(throttled, make_auth_client):
    throttled(user="3/minute")
    alice, bob = make_auth_client(UserFactory()), make_auth_client(UserFactory())

    assert [alice.get("/api/orders").status_code for _ in range(3)] == [200, 200, 200]
    assert_throttled(alice.get("/api/orders"), within=60)
    assert bob.get("/api/orders").status_code == 200


def test_the_user_limit_follows_the_user_not_the_ip(throttled, make_auth_client):
    throttled(user="2/minute")
    client = make_auth_client(UserFactory())

    client.get("/api/users/me", REMOTE_ADDR="192.0.2.1")
    client.get("/api/users/me", REMOTE_ADDR="192.0.2.2")

    assert_throttled(client.get("/api/users/me", REMOTE_ADDR="192.0.2.3"), within=60)


def _register(client: APIClient):
    body = {"email": f"r-{uuid.uuid4().hex[:10]}@example.com", "name": "R", "password": "x"}
    return client.post("/api/users", body, format="json")


def _sign_in(client: APIClient):
    return client.post(
        "/api/auth/token", {"email": "nobody@example.com", "password": "wrong"}, format="json"
    )


def _refresh(client: APIClient):
    return client.post("/api/auth/token/refresh", {"refresh": "not-a-token"}, format="json")


@pytest.mark.parametrize("send", [_register, _sign_in, _refresh], ids=["users", "token", "refresh"])
def test_auth_endpoints_have_a_stricter_limit(throttled, api_client, send):
    throttled(anon="1000/minute", auth="2/minute")

    first, second = send(api_client), send(api_client)
    assert first.status_code != 429 and second.status_code != 429

    assert_throttled(send(api_client), within=60)
    # The general API is not affected by the auth scope.
    assert api_client.get("/api/products").status_code == 200


def test_the_auth_scope_is_one_allowance_for_registration_and_tokens(throttled, api_client):
    throttled(auth="2/minute")
    _register(api_client)
    _sign_in(api_client)

    assert_throttled(_refresh(api_client), within=60)


def test_api_throttle_off_disables_every_throttle(throttled, settings, api_client):
    throttled(anon="1/minute", user="1/minute", auth="1/minute")
    settings.API_THROTTLE = False

    statuses = {api_client.get("/api/products").status_code for _ in range(5)}
    statuses |= {_sign_in(api_client).status_code for _ in range(3)}

    assert 429 not in statuses


# --- login lockout --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock(monkeypatch):
    """The lockout module's clock, movable: ``clock.now += seconds``."""
    import time

    fake = SimpleNamespace(now=time.time())
    monkeypatch.setattr(lockout, "time", SimpleNamespace(time=lambda: fake.now))
    return fake


def sign_in(client: APIClient, email: str, password: str):
    return client.post("/api/auth/token", {"email": email, "password": password}, format="json")


def fail_times(client: APIClient, email: str, times: int) -> list[int]:
    return [sign_in(client, email, "wrong-password").status_code for _ in range(times)]


def test_failed_sign_ins_lock_the_email_even_for_the_right_password(settings, api_client, clock):
    settings.LOGIN_MAX_FAILURES = 5
    settings.LOGIN_LOCKOUT_SECONDS = 900
    user = UserFactory()

    assert fail_times(api_client, user.email, 5) == [401] * 5

    response = sign_in(api_client, user.email, KNOWN_PASSWORD)
    assert_throttled(response, within=900)
    assert "access" not in response.json()
    assert fail_times(api_client, user.email, 1) == [429]


def test_the_lock_ends_when_the_window_passes(settings, api_client, clock):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_SECONDS = 60
    user = UserFactory()
    fail_times(api_client, user.email, 3)

    clock.now += 30
    response = sign_in(api_client, user.email, KNOWN_PASSWORD)
    assert_throttled(response, within=30)

    clock.now += 31
    assert sign_in(api_client, user.email, KNOWN_PASSWORD).status_code == 200


def test_the_lock_is_per_email_whatever_its_case(settings, api_client, clock):
    settings.LOGIN_MAX_FAILURES = 3
    locked, free = UserFactory(), UserFactory()

    fail_times(api_client, locked.email.upper(), 3)

    assert sign_in(api_client, f"  {locked.email.title()}", KNOWN_PASSWORD).status_code == 429
    assert sign_in(api_client, free.email, KNOWN_PASSWORD).status_code == 200


def test_a_successful_sign_in_clears_the_failures(settings, api_client, clock):
    settings.LOGIN_MAX_FAILURES = 3
    user = UserFactory()

    fail_times(api_client, user.email, 2)
    assert sign_in(api_client, user.email, KNOWN_PASSWORD).status_code == 200

    assert fail_times(api_client, user.email, 2) == [401, 401]
    assert sign_in(api_client, user.email, KNOWN_PASSWORD).status_code == 200


def test_unknown_emails_lock_like_known_ones(settings, api_client, clock):
    """The answers never tell whether an account exists."""
    settings.LOGIN_MAX_FAILURES = 2

    assert fail_times(api_client, "ghost@example.com", 3) == [401, 401, 429]


def test_invalid_input_does_not_count_as_a_failed_sign_in(settings, api_client, clock):
    settings.LOGIN_MAX_FAILURES = 2
    user = UserFactory()

    for _ in range(3):
        response = api_client.post(
            "/api/auth/token", {"email": user.email, "password": ""}, format="json"
        )
        assert response.status_code == 400

    assert sign_in(api_client, user.email, KNOWN_PASSWORD).status_code == 200


def test_the_lockout_defaults_are_five_failures_for_fifteen_minutes():
    assert django_settings.LOGIN_MAX_FAILURES == 5
    assert django_settings.LOGIN_LOCKOUT_SECONDS == 900


# --- page size cap ------------------------------------------------------------------------


def _products(user) -> None:
    ProductFactory.create_batch(105, owner_id=user.id)


def _orders(user) -> None:
    now = timezone.now()
    OrderSummary.objects.bulk_create(
        OrderSummary(
            order_id=uuid.uuid4(),
            user_id=user.id,
            status="PENDING",
            total=Decimal("1.00"),
            currency="USD",
            item_count=1,
            items=[],
            created_at=now,
            updated_at=now,
            last_sequence=1,
        )
        for _ in range(105)
    )


def _notifications(user) -> None:
    NotificationFactory.create_batch(105, user_id=user.id)


@pytest.mark.parametrize(
    ("path", "arrange"),
    [
        ("/api/products", _products),
        ("/api/orders", _orders),
        ("/api/notifications", _notifications),
    ],
)
@pytest.mark.parametrize("page_size", ["1000", "101", "100", "99999999999999999999"])
def test_page_size_is_capped_at_100(make_auth_client, path, arrange, page_size):
    user = UserFactory()
    arrange(user)

    response = make_auth_client(user).get(path, {"page_size": page_size})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 105
    assert len(body["results"]) == 100
    assert body["next"] is not None


@pytest.mark.parametrize("page_size", ["0", "-1", ""])
def test_a_page_size_below_one_or_empty_falls_back_to_the_default(api_client, page_size):
    ProductFactory.create_batch(25)

    response = api_client.get("/api/products", {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 20


@pytest.mark.parametrize("path", ["/api/products", "/api/orders", "/api/notifications"])
@pytest.mark.parametrize("page_size", ["abc", "1e9", " ", "null", "2.5"])
def test_a_page_size_that_is_not_an_integer_is_400(make_auth_client, path, page_size):
    response = make_auth_client(UserFactory()).get(path, {"page_size": page_size})

    assert response.status_code == 400
    assert response.json() == {"page_size": ["A valid integer is required."]}


# --- request body size ---------------------------------------------------------------------

LIMIT = 1024 * 1024


def oversized_json(size: int) -> str:
    """A JSON object of exactly ``size`` bytes."""
    skeleton = json.dumps({"name": ""})
    return json.dumps({"name": "x" * (size - len(skeleton))})


@pytest.fixture
def writer(make_auth_client, create_product):
    user = UserFactory()
    client = make_auth_client(user)
    return SimpleNamespace(client=client, user=user, product=create_product(client, stock=0))


WRITES = [
    ("post", "/api/users"),
    ("post", "/api/auth/token"),
    ("post", "/api/auth/token/refresh"),
    ("patch", "/api/users/me"),
    ("post", "/api/products"),
    ("patch", "/api/products/{product}"),
    ("post", "/api/inventory/{product}/adjust"),
    ("post", "/api/orders"),
]


def _stored(writer) -> tuple:
    return (
        User.objects.count(),
        Product.objects.count(),
        User.objects.get(pk=writer.user.pk).name,
        Product.objects.get(pk=writer.product["id"]).name,
    )


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_body_over_1_mb_is_413_and_nothing_is_stored(writer, method, path):
    path = path.format(product=writer.product["id"])
    before = _stored(writer)

    response = getattr(writer.client, method)(
        path, oversized_json(LIMIT + 1), content_type="application/json"
    )

    assert response.status_code == 413
    assert isinstance(response.json()["detail"], str)
    assert _stored(writer) == before


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_body_of_exactly_1_mb_is_read(writer, method, path):
    """The limit is over 1 MB: a body at the limit gets a normal answer (here: invalid input)."""
    path = path.format(product=writer.product["id"])

    response = getattr(writer.client, method)(
        path, oversized_json(LIMIT), content_type="application/json"
    )

    assert response.status_code == 400, response.content[:300]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_body_without_content_length_is_not_read(writer, method, path):
    """Without Content-Length (e.g. chunked) the WSGI request reads no body at all.

    The request is answered as if empty (400 for a required field, a no-op 200 for
    a PATCH): never a 5xx, and nothing of the body is stored.
    """
    path = path.format(product=writer.product["id"])
    before = _stored(writer)

    response = getattr(writer.client, method)(
        path, oversized_json(LIMIT + 1), content_type="application/json", CONTENT_LENGTH=""
    )

    assert response.status_code < 500
    assert response.status_code == (200 if method == "patch" else 400)
    assert isinstance(response.json(), dict)
    assert _stored(writer) == before


@pytest.mark.parametrize("length", ["abc", "-1", "1.5"])
def test_a_malformed_content_length_is_400(writer, length):
    response = writer.client.post(
        "/api/products", "{}", content_type="application/json", CONTENT_LENGTH=length
    )

    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)
