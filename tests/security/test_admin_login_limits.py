"""The admin sign-in has the API's limits: the per-IP ``auth`` allowance and the per-email lockout.

Failed sign-ins count per email across both doors (``POST /api/auth/token`` and
``POST /admin/login/``), and the per-IP allowance is one for both, so the admin
is no side door for guessing passwords. A refused admin sign-in answers 429 with
``Retry-After`` before any password is checked. The root conftest clears the
cache (throttle counters, lockouts) before each test.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from contexts.users import lockout
from contexts.users.tests.factories import KNOWN_PASSWORD, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def throttled(settings, monkeypatch):
    """``throttled(auth=...)``: turn throttling on with this ``auth`` rate (others generous)."""

    def configure(*, auth: str):
        settings.API_THROTTLE = True
        monkeypatch.setattr(
            SimpleRateThrottle,
            "THROTTLE_RATES",
            {"anon": "10000/minute", "user": "10000/minute", "auth": auth},
        )

    return configure


@pytest.fixture
def clock(monkeypatch):
    """The lockout module's clock, movable: ``clock.now += seconds``."""
    import time

    fake = SimpleNamespace(now=time.time())
    monkeypatch.setattr(lockout, "time", SimpleNamespace(time=lambda: fake.now))
    return fake


def admin_sign_in(client: Client, email: str, password: str, **extra):
    return client.post(
        ADMIN_LOGIN, {"username": email, "password": password, "next": "/admin/"}, **extra
    )


def api_sign_in(client: APIClient, email: str, password: str):
    return client.post("/api/auth/token", {"email": email, "password": password}, format="json")


def api_fail_times(client: APIClient, email: str, times: int) -> list[int]:
    return [api_sign_in(client, email, "wrong").status_code for _ in range(times)]


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def assert_refused(response, *, within: int) -> None:
    assert response.status_code == 429, response.content[:300]
    assert 1 <= int(response.headers["Retry-After"]) <= within
    assert b"try again" in response.content.lower()


def test_a_hundred_wrong_admin_sign_ins_from_one_address_are_refused_after_the_limit(throttled):
    throttled(auth="30/minute")
    client = Client()

    # A new email each time: the per-email lockout never triggers, the per-IP limit does.
    statuses = [
        admin_sign_in(client, f"guess-{n}@example.com", "wrong-password").status_code
        for n in range(100)
    ]

    assert statuses == [200] * 30 + [429] * 70
    assert_refused(admin_sign_in(client, "one-more@example.com", "x"), within=60)
    # Another address has its own allowance.
    assert admin_sign_in(client, "x@example.com", "x", REMOTE_ADDR="192.0.2.9").status_code == 200


def test_wrong_admin_sign_ins_lock_the_email_even_for_the_right_password(settings, clock):
    settings.LOGIN_MAX_FAILURES = 5
    settings.LOGIN_LOCKOUT_SECONDS = 900
    staff = StaffUserFactory()
    client = Client()

    statuses = [admin_sign_in(client, staff.email, "wrong").status_code for _ in range(100)]

    assert statuses == [200] * 5 + [429] * 95
    response = admin_sign_in(client, staff.email.upper(), KNOWN_PASSWORD)
    assert_refused(response, within=900)
    assert not signed_in(client)


def test_failures_on_the_api_and_the_admin_count_together(settings, api_client, clock):
    settings.LOGIN_MAX_FAILURES = 5
    staff = StaffUserFactory()
    admin = Client()

    assert api_fail_times(api_client, staff.email, 3) == [401] * 3
    assert [admin_sign_in(admin, staff.email, "wrong").status_code for _ in range(2)] == [200] * 2

    # Five failures in all: both doors are shut for this email, right password or not.
    assert api_sign_in(api_client, staff.email, KNOWN_PASSWORD).status_code == 429
    assert_refused(admin_sign_in(admin, staff.email, KNOWN_PASSWORD), within=900)
    assert not signed_in(admin)


def test_an_api_lockout_shuts_the_admin_door_too(settings, api_client, clock):
    settings.LOGIN_MAX_FAILURES = 3
    staff = StaffUserFactory()
    for _ in range(3):
        api_sign_in(api_client, staff.email, "wrong")

    admin = Client()
    assert_refused(admin_sign_in(admin, staff.email, KNOWN_PASSWORD), within=900)

    clock.now += 901
    response = admin_sign_in(admin, staff.email, KNOWN_PASSWORD)
    assert response.status_code == 302
    assert signed_in(admin)


def test_a_successful_admin_sign_in_clears_the_failures(settings, api_client, clock):
    settings.LOGIN_MAX_FAILURES = 3
    staff = StaffUserFactory()

    api_sign_in(api_client, staff.email, "wrong")
    admin_sign_in(Client(), staff.email, "wrong")
    assert admin_sign_in(Client(), staff.email, KNOWN_PASSWORD).status_code == 302

    assert api_fail_times(api_client, staff.email, 2) == [401] * 2
    assert api_sign_in(api_client, staff.email, KNOWN_PASSWORD).status_code == 200


def test_a_customer_with_the_right_password_is_a_failed_admin_sign_in(settings, clock):
    """The admin refuses non-staff accounts like wrong passwords, and counts them the same."""
    settings.LOGIN_MAX_FAILURES = 2
    customer = UserFactory()
    client = Client()

    statuses = [admin_sign_in(client, customer.email, KNOWN_PASSWORD).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert not signed_in(client)


def test_the_per_ip_allowance_is_one_for_the_api_and_the_admin(throttled, api_client):
    throttled(auth="2/minute")

    assert api_sign_in(api_client, "a@example.com", "wrong").status_code == 401
    assert admin_sign_in(Client(), "b@example.com", "wrong").status_code == 200

    assert_refused(admin_sign_in(Client(), "c@example.com", "wrong"), within=60)
    assert api_sign_in(api_client, "d@example.com", "wrong").status_code == 429


def test_showing_the_login_page_is_not_a_sign_in_attempt(throttled, settings):
    throttled(auth="1/minute")
    client = Client()

    assert [client.get(ADMIN_LOGIN).status_code for _ in range(5)] == [200] * 5
    assert admin_sign_in(client, "a@example.com", "wrong").status_code == 200
    assert_refused(admin_sign_in(client, "b@example.com", "wrong"), within=60)


def test_an_incomplete_form_does_not_count_as_a_failed_sign_in(settings, clock):
    settings.LOGIN_MAX_FAILURES = 2
    staff = StaffUserFactory()
    client = Client()

    for _ in range(3):
        assert admin_sign_in(client, staff.email, "").status_code == 200

    assert admin_sign_in(client, staff.email, KNOWN_PASSWORD).status_code == 302


def test_api_throttle_off_turns_the_admins_per_ip_limit_off_too(throttled, settings, clock):
    throttled(auth="1/minute")
    settings.API_THROTTLE = False
    settings.LOGIN_MAX_FAILURES = 1000
    client = Client()

    statuses = {admin_sign_in(client, f"g{n}@example.com", "x").status_code for n in range(5)}

    assert statuses == {200}
