"""GET /api/notifications (docs/api.md): the caller's notifications, paginated, newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contexts.notifications.models import Notification
from contexts.notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db

URL = "/api/notifications"


def test_anonymous_callers_get_401(api_client):
    response = api_client.get(URL)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_the_caller_sees_only_their_notifications_newest_first(user, auth_client):
    now = timezone.now()
    older = NotificationFactory(user_id=user.id, created_at=now - timedelta(minutes=5))
    newer = NotificationFactory(
        user_id=user.id,
        kind=Notification.Kind.ORDER_CONFIRMED,
        order_id="6f1c1b9e-8a43-4a43-9d6f-1f2b3c4d5e6f",
        created_at=now,
    )
    NotificationFactory()  # someone else's

    response = auth_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [n["id"] for n in body["results"]] == [str(newer.id), str(older.id)]
    first = body["results"][0]
    assert set(first) == {"id", "kind", "subject", "body", "order_id", "created_at"}
    assert first["kind"] == "ORDER_CONFIRMED"
    assert first["order_id"] == "6f1c1b9e-8a43-4a43-9d6f-1f2b3c4d5e6f"
    assert body["results"][1]["order_id"] is None


def test_the_list_is_paginated(user, auth_client):
    NotificationFactory.create_batch(3, user_id=user.id)

    response = auth_client.get(URL, {"page_size": 2})

    body = response.json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert body["next"] is not None and body["previous"] is None
    assert len(auth_client.get(URL, {"page_size": 2, "page": 2}).json()["results"]) == 1


@pytest.mark.parametrize("params", [{"page": "x"}, {"page": 99}, {"page_size": "-1"}])
def test_bad_pages_are_4xx_json_never_500(user, auth_client, params):
    NotificationFactory(user_id=user.id)
    response = auth_client.get(URL, params)
    assert response.status_code < 500
    assert response.headers["Content-Type"].startswith("application/json")


def test_the_public_interface_lists_a_users_notifications(user):
    from contexts.notifications.contracts import NotificationInfo
    from contexts.notifications.public import list_notifications_for_user

    mine = NotificationFactory(user_id=user.id)
    NotificationFactory()

    [info] = list_notifications_for_user(user.id)

    assert isinstance(info, NotificationInfo)
    assert (info.id, info.kind, info.user_id) == (mine.id, "WELCOME", user.id)
