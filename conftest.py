"""Fixtures shared by every test package (context tests and cross-context tests)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


def pytest_collection_modifyitems(items):
    """A ``django_db`` test may touch every context's database unless it says otherwise.

    In split mode each context has its own database; naming them all keeps
    tests identical in both modes.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and "databases" not in marker.kwargs:
            kwargs = {**marker.kwargs, "databases": "__all__"}
            item.add_marker(pytest.mark.django_db(*marker.args, **kwargs), append=False)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and login lockouts live in the Django cache: each test starts clean."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous DRF test client."""
    return APIClient()


# --- Accounts (users context) -------------------------------------------------
# Factories are imported lazily: Django is not set up when this file is imported.


@pytest.fixture
def user(db):
    """A registered, active user (password: ``factories.KNOWN_PASSWORD``)."""
    from contexts.users.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def staff_user(db):
    """An active staff user (``is_staff=True``), same known password."""
    from contexts.users.tests.factories import StaffUserFactory

    return StaffUserFactory()


@pytest.fixture
def make_auth_client():
    """``make_auth_client(user)`` -> an APIClient sending ``Authorization: Bearer <access>``."""
    from rest_framework_simplejwt.tokens import RefreshToken

    def make(account) -> APIClient:
        client = APIClient()
        access = RefreshToken.for_user(account).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        return client

    return make


@pytest.fixture
def auth_client(user, make_auth_client) -> APIClient:
    """An APIClient authenticated as ``user``."""
    return make_auth_client(user)


# --- Celery worker (contexts/kernel/testing.py explains the usage) -------------


@pytest.fixture
def start_celery_worker(transactional_db, tmp_path):
    """``start_celery_worker(**options)`` -> a started real worker process on the test
    databases and broker (``options``: queues, concurrency, beat, include, env).

    The broker's queues are emptied first; every worker is stopped at teardown,
    before the databases are flushed. Use with ``django_db(transaction=True)``.
    """
    from contexts.kernel.testing import CeleryWorker, purge_broker

    purge_broker()
    workers = []

    def start(**options):
        worker = CeleryWorker(tmp_path, **options)
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def celery_worker(start_celery_worker):
    """One real worker on every queue (concurrency 1, no beat)."""
    return start_celery_worker()
