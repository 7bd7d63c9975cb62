"""The users remote adapter against a real users deployment (the live test server).

Where users runs elsewhere, ``public`` calls ``remote``; it must answer exactly
what ``local`` answers, and say ``UsersUnavailable`` when the deployment does not.
"""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings

from contexts.kernel.remote.client import close_connections
from contexts.kernel.testing import HangingServer, free_port
from contexts.users import local, public, remote
from contexts.users.contracts import UsersUnavailable
from contexts.users.tests.factories import StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _hang_up():
    """Keep-alive connections hold a live-server thread (and its database connection)."""
    yield
    close_connections()


def users_at(url: str, **more):
    return override_settings(
        CONTEXT_URLS={"users": url},
        SERVICE_TOKENS=["adapter-token"],
        INTERNAL_API_TIMEOUT_SECONDS=0.5,
        INTERNAL_API_RETRIES=1,
        **more,
    )


def test_remote_answers_what_local_answers(live_server):
    active, inactive, staff = UserFactory(), UserFactory(is_active=False), StaffUserFactory()
    unknown = uuid.uuid4()

    with users_at(live_server.url):
        for user_id in (active.id, inactive.id, staff.id, unknown, "not-a-uuid"):
            assert remote.get_user(user_id) == local.get_user(user_id)
            assert remote.user_exists(user_id) is local.user_exists(user_id)


def test_public_calls_remote_where_users_runs_elsewhere(live_server):
    user = UserFactory()

    with users_at(live_server.url, SHOP_CONTEXTS=("catalog",)):
        assert public._implementation() is remote
        assert public.get_user(user.id) == local.get_user(user.id)
    assert public._implementation() is local


@pytest.mark.parametrize("where", ["refused", "hanging"])
def test_a_users_deployment_that_does_not_answer_is_users_unavailable(where):
    with HangingServer() as hanging:
        url = (
            f"http://{hanging.url_host}"
            if where == "hanging"
            else f"http://127.0.0.1:{free_port()}"
        )
        with users_at(url), pytest.raises(UsersUnavailable) as raised:
            remote.user_exists(uuid.uuid4())

    assert raised.value.http_status == 503
