"""The admin of notifications and their delivery attempts."""

from __future__ import annotations

import pytest
from django.test import Client

from contexts.notifications.models import DeliveryAttempt
from contexts.notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(staff_user) -> Client:
    staff_user.is_superuser = True
    staff_user.save()
    client = Client()
    client.force_login(staff_user)
    return client


def test_notifications_are_listed_and_shown_with_their_attempts(admin):
    notification = NotificationFactory(subject="Welcome, Ada")
    DeliveryAttempt.objects.create(notification=notification, succeeded=False, error="SMTP down")

    listing = admin.get("/admin/notifications/notification/", {"q": "Ada"})
    page = admin.get(f"/admin/notifications/notification/{notification.pk}/change/")

    assert listing.status_code == 200 and "Welcome, Ada" in listing.content.decode()
    assert page.status_code == 200 and "SMTP down" in page.content.decode()
