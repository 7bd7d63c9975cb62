"""GET /api/notifications?kind= (docs/api.md): one kind only; an invalid kind is 400."""

from __future__ import annotations

import pytest

from contexts.notifications.models import Notification
from contexts.notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db

URL = "/api/notifications"


@pytest.mark.parametrize("kind", Notification.Kind.values)
def test_kind_keeps_only_that_kind_of_the_callers_notifications(user, auth_client, kind):
    mine = {k: NotificationFactory(user_id=user.id, kind=k) for k in Notification.Kind.values}
    NotificationFactory(kind=kind)  # someone else's

    response = auth_client.get(URL, {"kind": kind})

    assert response.status_code == 200
    assert [n["id"] for n in response.json()["results"]] == [str(mine[kind].id)]


def test_an_empty_kind_is_no_filter(user, auth_client):
    NotificationFactory.create_batch(2, user_id=user.id)

    response = auth_client.get(URL, {"kind": ""})

    assert response.status_code == 200
    assert response.json()["count"] == 2


@pytest.mark.parametrize("kind", ["NOT_A_KIND", "welcome", "WELCOME,ORDER_CONFIRMED", " WELCOME"])
def test_an_invalid_kind_is_400_json(user, auth_client, kind):
    NotificationFactory(user_id=user.id)

    response = auth_client.get(URL, {"kind": kind})

    assert response.status_code == 400
    assert list(response.json()) == ["kind"]
