"""The admin for accounts, and `manage.py createsuperuser`."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from contexts.users.models import User, UserPreferences, UserProfile
from contexts.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_() -> Client:
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_createsuperuser_with_email_and_name(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "correct-horse-battery")

    call_command(
        "createsuperuser", interactive=False, email="Root@Example.com", name="Root", verbosity=0
    )

    root = User.objects.get(email="root@example.com")
    assert (root.is_staff, root.is_superuser, root.name) == (True, True, "Root")
    assert root.check_password("correct-horse-battery")
    assert UserProfile.objects.filter(user=root).exists()
    assert UserPreferences.objects.filter(user=root).exists()


def test_admin_lists_searches_and_shows_users(admin_client_):
    user = UserFactory(email="findme@example.com", name="Find Me")

    listing = admin_client_.get("/admin/users/user/", {"q": "findme"})
    change = admin_client_.get(f"/admin/users/user/{user.pk}/change/")

    assert listing.status_code == 200
    assert b"findme@example.com" in listing.content
    assert change.status_code == 200
    assert b"profile" in change.content.lower()


def test_admin_add_user_creates_profile_and_preferences(admin_client_):
    response = admin_client_.post(
        "/admin/users/user/add/",
        {
            "email": "Added@Example.com",
            "name": "Added",
            "usable_password": "true",
            "password1": "correct-horse-battery",
            "password2": "correct-horse-battery",
        },
    )

    assert response.status_code == 302, response.content[:2000]
    added = User.objects.get(email="added@example.com")
    assert added.check_password("correct-horse-battery")
    assert UserProfile.objects.filter(user=added).exists()
    assert UserPreferences.objects.filter(user=added).exists()


def test_admin_add_rejects_an_email_registered_in_another_case(admin_client_):
    UserFactory(email="twice@example.com")

    response = admin_client_.post(
        "/admin/users/user/add/",
        {
            "email": "TWICE@example.com",
            "name": "Twice",
            "usable_password": "false",
        },
    )

    assert response.status_code == 200  # the form again, with an error
    assert User.objects.filter(email__iexact="twice@example.com").count() == 1
