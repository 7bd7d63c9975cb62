"""Staff lift an email's sign-in lockout from the admin (with the change permission only)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from contexts.users.errors import LoginLocked
from contexts.users.lockout import login_ensure_allowed, login_record_failure
from contexts.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def staff_with(*codenames: str) -> Client:
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="users", codename__in=codenames)
    )
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def locked(settings):
    settings.LOGIN_MAX_FAILURES = 2
    account = UserFactory(email="locked@example.com")
    for _ in range(2):
        login_record_failure(email=account.email)
    with pytest.raises(LoginLocked):
        login_ensure_allowed(email=account.email)
    return account


def unlock(client: Client, account):
    return client.post(
        "/admin/users/user/",
        {"action": "unlock_sign_in", "_selected_action": [str(account.pk)]},
        follow=True,
    )


def test_staff_with_the_change_permission_unlock_a_locked_out_email(locked):
    operator = staff_with("view_user", "change_user")

    response = unlock(operator, locked)

    assert "1 of 1 account(s) were locked out and are unlocked now" in response.content.decode()
    login_ensure_allowed(email=locked.email)  # no longer raises
    signed_in = Client().post(
        "/api/auth/token",
        {"email": locked.email, "password": "password-123-long"},
        content_type="application/json",
    )
    assert signed_in.status_code != 429


def test_staff_who_may_only_view_accounts_cannot_unlock(locked):
    viewer = staff_with("view_user")
    assert 'value="unlock_sign_in"' not in viewer.get("/admin/users/user/").content.decode()

    unlock(viewer, locked)

    with pytest.raises(LoginLocked):
        login_ensure_allowed(email=locked.email)
