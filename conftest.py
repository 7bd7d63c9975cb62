"""Fixtures shared by every test package (context tests and cross-context tests)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

#: Why split mode skips the process-level tests (``@pytest.mark.extraction``).
EXTRACTION_SKIPPED_IN_SPLIT_MODE = (
    "extraction tests run once, in shared mode (`make test`): each deployment they "
    "start has a database of its own in either mode, so split mode would only repeat them"
)


def pytest_collection_modifyitems(items):
    """A ``django_db`` test may touch every context's database unless it says otherwise.

    In split mode each context has its own database; naming them all keeps
    tests identical in both modes. The extraction tests are skipped there.
    """
    from django.conf import settings

    split = bool(settings.DB_PER_CONTEXT)
    for item in items:
        if split and item.get_closest_marker("extraction") is not None:
            item.add_marker(pytest.mark.skip(reason=EXTRACTION_SKIPPED_IN_SPLIT_MODE))
        marker = item.get_closest_marker("django_db")
        if marker is not None and "databases" not in marker.kwargs:
            kwargs = {**marker.kwargs, "databases": "__all__"}
            item.add_marker(pytest.mark.django_db(*marker.args, **kwargs), append=False)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    """Hash passwords with MD5 in tests. PBKDF2's deliberate slowness (a million
    iterations, most of a second per registration or sign-in on a busy machine) is
    what production needs and what the suite does not; production keeps Django's
    default hashers (tests/test_password_hashing.py)."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and login lockouts live in the Django cache: each test starts clean.

    So does the readiness probe's answer, kept in the process (config/health.py).
    """
    from django.core.cache import cache

    from config.health import reset_readiness_cache

    cache.clear()
    reset_readiness_cache()


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


@pytest.fixture
def make_user(db):
    """``make_user(is_staff=False)`` -> a new active account."""
    from contexts.users.tests.factories import StaffUserFactory, UserFactory

    def make(*, is_staff: bool = False):
        return StaffUserFactory() if is_staff else UserFactory()

    return make


# --- Products and stock, arranged through the catalog and inventory APIs ---------
# Cross-context tests arrange other contexts' data through their public HTTP
# surface, never their models or factories.

_skus = itertools.count()


@pytest.fixture
def create_product() -> Callable[..., dict[str, Any]]:
    """``create_product(client, price="19.99", stock=10, name="")`` -> the product as the
    catalog's API returns it, owned by ``client``'s user, with ``stock`` on hand."""

    def create(
        client: APIClient, *, price: str | Decimal = "19.99", stock: int = 10, name: str = ""
    ) -> dict[str, Any]:
        n = next(_skus)
        response = client.post(
            "/api/products",
            {"sku": f"TST-{n:06d}", "name": name or f"Product {n}", "price": str(price)},
            format="json",
        )
        assert response.status_code == 201, response.content
        product = response.json()
        if stock:
            adjusted = client.post(
                f"/api/inventory/{product['id']}/adjust", {"delta": stock}, format="json"
            )
            assert adjusted.status_code == 200, adjusted.content
        return product

    return create


@pytest.fixture
def seller(make_user, make_auth_client) -> APIClient:
    """A client for a user who sells products (owns them, adjusts their stock)."""
    return make_auth_client(make_user())


@pytest.fixture
def make_product(seller, create_product) -> Callable[..., dict[str, Any]]:
    """``make_product(price="19.99", stock=10, name="")`` -> a product owned by ``seller``."""

    def make(**options: Any) -> dict[str, Any]:
        return create_product(seller, **options)

    return make


@pytest.fixture
def stock_of(api_client) -> Callable[[str], dict[str, int]]:
    """``stock_of(product_id)`` -> ``{"product_id", "on_hand", "reserved", "available"}``."""

    def read(product_id: str) -> dict[str, int]:
        response = api_client.get(f"/api/inventory/{product_id}")
        assert response.status_code == 200, response.content
        return response.json()

    return read


# --- Orders, placed through the orders API -------------------------------------


@pytest.fixture
def place_order(auth_client) -> Callable[..., dict[str, Any]]:
    """``place_order(*products, quantity=1, token="tok_ok", client=auth_client)`` -> the new
    order as ``POST /api/orders`` returns it (``PENDING``; asserts the 201).

    One line per product, each of ``quantity``; a ``(product, quantity)`` pair sets one
    line's own. ``token`` is the payment token (docs/api.md lists what each does).
    """

    def place(
        *lines: dict[str, Any] | tuple[dict[str, Any], int],
        quantity: int = 1,
        token: str = "tok_ok",
        client: APIClient | None = None,
    ) -> dict[str, Any]:
        items = [
            {"product_id": line[0]["id"], "quantity": line[1]}
            if isinstance(line, tuple)
            else {"product_id": line["id"], "quantity": quantity}
            for line in lines
        ]
        response = (client or auth_client).post(
            "/api/orders", {"items": items, "payment_token": token}, format="json"
        )
        assert response.status_code == 201, response.content
        return response.json()

    return place


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
