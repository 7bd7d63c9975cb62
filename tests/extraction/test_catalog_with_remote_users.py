"""The classic two-service exercise: catalog as its own deployment, users as another.

A users deployment (``SHOP_CONTEXTS=users``) and a catalog deployment
(``SHOP_CONTEXTS=catalog``, ``USERS_URL`` pointing at the users one) run as
gunicorn processes, each on a database of its own. A customer registers and
signs in on users; the catalog verifies that JWT itself (shared signing key,
a token user: it has no accounts table) and asks the users deployment over
the internal API, with the service token, whether the owner exists. Both
processes start once for the module (about 15 s of its ~25 s on a quiet
two-core machine: two migrations, two gunicorns, one restart).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import jwt
import pytest

from tests.extraction.deployments import (
    JWT_SIGNING_KEY,
    SERVICE_TOKEN,
    Deployment,
    drop_database,
    start_all,
)

pytestmark = pytest.mark.extraction

PASSWORD = "correct-horse-battery-staple"
_emails = count()
_skus = count()

#: Django's own tables, which every deployment has (its admin signs staff in).
DJANGO_PREFIXES = ("django_migrations", "django_content_type", "django_session",
                   "django_admin_log", "auth_")  # fmt: skip
KERNEL_PREFIX = "kernel_"


@pytest.fixture(scope="module")
def deployments(tmp_path_factory) -> Iterator[dict[str, Deployment]]:
    directory = tmp_path_factory.mktemp("extraction")
    # The second token is accepted too: tokens rotate without downtime.
    users = Deployment(
        "users",
        contexts="users",
        directory=directory,
        env={"SERVICE_TOKEN": f"{SERVICE_TOKEN},next-service-token"},
    )
    catalog = Deployment(
        "catalog",
        contexts="catalog",
        directory=directory,
        env={"USERS_URL": users.url, "INTERNAL_API_RETRIES": "1"},
    )
    started = time.monotonic()
    try:
        start_all(users, catalog)
        print(f"\nusers and catalog deployments up in {time.monotonic() - started:.1f} s")
        yield {"users": users, "catalog": catalog}
    finally:
        for deployment in (catalog, users):
            deployment.stop()
            drop_database(deployment.database_url)


@pytest.fixture(scope="module")
def users(deployments) -> Deployment:
    return deployments["users"]


@pytest.fixture(scope="module")
def catalog(deployments) -> Deployment:
    return deployments["catalog"]


def register(users: Deployment) -> tuple[str, str]:
    """A new account on the users deployment: (its id, an access token)."""
    email = f"seller-{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com"
    created = httpx.post(
        f"{users.url}/api/users", json={"email": email, "name": "Ada", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], sign_in(users, email)


def sign_in(users: Deployment, email: str) -> str:
    response = httpx.post(
        f"{users.url}/api/auth/token", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def email_of(users: Deployment, token: str) -> str:
    return httpx.get(f"{users.url}/api/users/me", headers=bearer(token)).json()["email"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_product(catalog: Deployment, token: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{catalog.url}/api/products",
        json={"sku": f"EXT-{next(_skus):05d}", "name": "Mug", "price": "12.50"},
        headers={**bearer(token), **headers},
        timeout=30,
    )


def forged_access_token(user_id: str, **claims: Any) -> str:
    """An access token as the users deployment would sign it, for any user id."""
    now = datetime.now(UTC)
    payload = {
        "token_type": "access",
        "exp": now + timedelta(minutes=5),
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": user_id,
        **claims,
    }
    return jwt.encode(payload, JWT_SIGNING_KEY, algorithm="HS256")


def test_a_customer_of_the_users_deployment_puts_a_product_on_sale_on_the_catalog(users, catalog):
    user_id, token = register(users)

    created = create_product(catalog, token, **{"X-Request-ID": "ext-owner-check-1"})

    assert created.status_code == 201, created.text
    product = created.json()
    assert product["owner_id"] == user_id
    shown = httpx.get(f"{catalog.url}/api/products/{product['id']}")
    assert shown.status_code == 200 and shown.json()["owner_id"] == user_id
    # The owner check went to the users deployment, carrying the request's correlation id.
    assert "ext-owner-check-1" in users.logs()
    # The catalog serves no users routes: accounts live on the users deployment only.
    assert httpx.get(f"{catalog.url}/api/users/me", headers=bearer(token)).status_code == 404


def test_ownership_and_staff_rights_come_from_the_token(users, catalog):
    _, owner_token = register(users)
    other_id, other_token = register(users)
    product = create_product(catalog, owner_token).json()
    url = f"{catalog.url}/api/products/{product['id']}"

    refused = httpx.patch(url, json={"name": "Cup"}, headers=bearer(other_token))
    users.execute("UPDATE users_user SET is_staff = true WHERE id = %s", other_id)
    staff_token = sign_in(users, email_of(users, other_token))
    allowed = httpx.patch(url, json={"name": "Cup"}, headers=bearer(staff_token))
    owner_deletes = httpx.delete(url, headers=bearer(owner_token))

    assert refused.status_code == 403, refused.text
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["name"] == "Cup"
    assert owner_deletes.status_code == 204


def test_an_unknown_or_inactive_owner_cannot_put_products_on_sale(users, catalog):
    unknown = create_product(catalog, forged_access_token(str(uuid.uuid4())))
    user_id, token = register(users)
    users.execute("UPDATE users_user SET is_active = false WHERE id = %s", user_id)
    inactive = create_product(catalog, token)

    for refused in (unknown, inactive):
        assert refused.status_code == 403, refused.text
        assert refused.json() == {"detail": "Your account cannot own products."}
    # The users deployment refuses the deactivated account's token at once.
    assert httpx.get(f"{users.url}/api/users/me", headers=bearer(token)).status_code == 401


def test_a_forged_or_malformed_token_is_refused(catalog):
    forged = jwt.encode(
        {"token_type": "access", "user_id": str(uuid.uuid4()), "jti": "x",
         "exp": datetime.now(UTC) + timedelta(minutes=5)},
        "not-the-signing-key-of-any-deployment-at-all",
        algorithm="HS256",
    )  # fmt: skip

    malformed = forged_access_token("not-a-uuid")

    assert create_product(catalog, forged).status_code == 401
    assert create_product(catalog, malformed).status_code == 401


def test_while_users_is_down_the_catalog_answers_503_and_recovers(users, catalog):
    _, token = register(users)

    with users.stopped():
        down = create_product(catalog, token)
        listing = httpx.get(f"{catalog.url}/api/products")
    after = create_product(catalog, token)

    assert down.status_code == 503, down.text
    assert down.headers["Content-Type"] == "application/json"
    assert down.json() == {"detail": "The users service is unavailable; try again shortly."}
    assert listing.status_code == 200  # reading the catalog needs no users
    assert after.status_code == 201, after.text


def test_the_internal_api_answers_only_the_service_token(users, catalog):
    user_id, token = register(users)
    url = f"{users.url}/internal/v1/users/users/{user_id}"

    answers = {
        "none": httpx.get(url),
        "wrong": httpx.get(url, headers={"Authorization": "Service not-the-token"}),
        "customer jwt": httpx.get(url, headers=bearer(token)),
        "token": httpx.get(url, headers={"Authorization": f"Service {SERVICE_TOKEN}"}),
        "next token": httpx.get(url, headers={"Authorization": "Service next-service-token"}),
    }

    for refused in ("none", "wrong", "customer jwt"):
        assert answers[refused].status_code == 401, refused
        assert "detail" in answers[refused].json()
    for accepted in ("token", "next token"):
        assert answers[accepted].status_code == 200, answers[accepted].text
    assert answers["token"].json() == {
        "id": user_id,
        "email": email_of(users, token),
        "name": "Ada",
        "is_active": True,
        "is_staff": False,
    }
    # The catalog deployment accepts only its own list (the next token is not on it).
    catalog_schema = f"{catalog.url}/internal/schema/?format=json"
    assert httpx.get(catalog_schema, headers={"Authorization": "Service x"}).status_code == 401


def test_each_deployment_documents_only_its_own_internal_api(users, catalog):
    service = {"Authorization": f"Service {SERVICE_TOKEN}"}
    users_doc = httpx.get(f"{users.url}/internal/schema/?format=json", headers=service).json()
    catalog_doc = httpx.get(f"{catalog.url}/internal/schema/?format=json", headers=service)
    public_doc = httpx.get(f"{users.url}/api/schema/?format=json").json()

    assert list(users_doc["paths"]) == ["/internal/v1/users/users/{user_id}"]
    assert catalog_doc.status_code == 200 and catalog_doc.json()["paths"] == {}
    assert [path for path in public_doc["paths"] if path.startswith("/internal")] == []
    assert "/api/products" not in public_doc["paths"]  # catalog runs elsewhere


def test_each_database_holds_only_its_own_context_kernel_and_django_tables(users, catalog):
    for deployment, own in ((users, ("users_", "token_blacklist_")), (catalog, ("catalog_",))):
        tables = deployment.tables()
        foreign = [
            table
            for table in tables
            if not table.startswith((*own, KERNEL_PREFIX, *DJANGO_PREFIXES))
        ]

        assert foreign == [], deployment.name
        assert any(table.startswith(own) for table in tables), deployment.name
        assert {"kernel_outboxmessage", "django_migrations"} <= tables
    assert "users_user" not in catalog.tables()
    assert "catalog_product" not in users.tables()
