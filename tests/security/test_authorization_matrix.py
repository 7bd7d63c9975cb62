"""Who may call what: every endpoint of docs/api.md x {anonymous, another user, the owner, staff}.

The statuses are those of docs/api.md: 401 for anonymous callers of user endpoints, 404 (not
403) for another user's private resources (orders), 403 for writes by someone
who is neither the owner nor staff (products, stock adjustments).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from contexts.users.tests.factories import KNOWN_PASSWORD
from tests.security.conftest import ACTORS, World

pytestmark = pytest.mark.django_db

Body = Callable[[World], Any] | None


class Endpoint(NamedTuple):
    method: str
    path: str  # placeholders: {product}, {order}, {owner}
    body: Body
    expected: dict[str, int]


def anyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ACTORS, status)


def signed_in(status: int) -> dict[str, int]:
    return {"anonymous": 401, "other": status, "owner": status, "staff": status}


def owner_or_staff(status: int, *, others: int) -> dict[str, int]:
    return {"anonymous": 401, "other": others, "owner": status, "staff": status}


def _registration(world: World) -> dict[str, str]:
    return {
        "email": f"new-{uuid.uuid4().hex[:12]}@example.com",
        "name": "Newcomer",
        "password": "correct-horse-battery",
    }


def _credentials(world: World) -> dict[str, str]:
    return {"email": world.owner.email, "password": KNOWN_PASSWORD}


def _refresh(world: World) -> dict[str, str]:
    return {"refresh": str(RefreshToken.for_user(world.owner))}


def _new_product(world: World) -> dict[str, str]:
    return {"sku": f"MATRIX-{uuid.uuid4().hex[:10]}", "name": "Matrix", "price": "3.50"}


def _order(world: World) -> dict[str, Any]:
    return {
        "items": [{"product_id": world.product["id"], "quantity": 1}],
        "payment_token": "tok_ok",
    }


ENDPOINTS: dict[str, Endpoint] = {
    # --- service
    "health": Endpoint("GET", "/health", None, anyone(200)),
    "health-ready": Endpoint("GET", "/health/ready", None, anyone(200)),
    "schema": Endpoint("GET", "/api/schema/", None, anyone(200)),
    "docs": Endpoint("GET", "/api/docs/", None, anyone(200)),
    "redoc": Endpoint("GET", "/api/redoc/", None, anyone(200)),
    # --- users and auth
    "register": Endpoint("POST", "/api/users", _registration, anyone(201)),
    "token": Endpoint("POST", "/api/auth/token", _credentials, anyone(200)),
    "token-refresh": Endpoint("POST", "/api/auth/token/refresh", _refresh, anyone(200)),
    "me": Endpoint("GET", "/api/users/me", None, signed_in(200)),
    "me-update": Endpoint("PATCH", "/api/users/me", lambda w: {"name": "Renamed"}, signed_in(200)),
    "user-detail": Endpoint("GET", "/api/users/{owner}", None, signed_in(200)),
    # --- catalog
    "products": Endpoint("GET", "/api/products", None, anyone(200)),
    "product-create": Endpoint("POST", "/api/products", _new_product, signed_in(201)),
    "product": Endpoint("GET", "/api/products/{product}", None, anyone(200)),
    "product-update": Endpoint(
        "PATCH",
        "/api/products/{product}",
        lambda w: {"price": "12.00"},
        owner_or_staff(200, others=403),
    ),
    "product-delete": Endpoint(
        "DELETE", "/api/products/{product}", None, owner_or_staff(204, others=403)
    ),
    # --- inventory
    "stock": Endpoint("GET", "/api/inventory/{product}", None, anyone(200)),
    "stock-adjust": Endpoint(
        "POST",
        "/api/inventory/{product}/adjust",
        lambda w: {"delta": 3, "reason": "recount"},
        owner_or_staff(200, others=403),
    ),
    # --- orders (a PENDING order of the owner's: cancelling it is a 409 conflict)
    "orders": Endpoint("GET", "/api/orders", None, signed_in(200)),
    "order-place": Endpoint("POST", "/api/orders", _order, signed_in(201)),
    "order": Endpoint("GET", "/api/orders/{order}", None, owner_or_staff(200, others=404)),
    "order-history": Endpoint(
        "GET", "/api/orders/{order}/history", None, owner_or_staff(200, others=404)
    ),
    "order-cancel": Endpoint(
        "POST", "/api/orders/{order}/cancel", None, owner_or_staff(409, others=404)
    ),
    # --- notifications
    "notifications": Endpoint("GET", "/api/notifications", None, signed_in(200)),
}


def path_of(endpoint: Endpoint, world: World) -> str:
    return endpoint.path.format(
        product=world.product["id"], order=world.order["id"], owner=world.owner.id
    )


def call(client: APIClient, endpoint: Endpoint, world: World):
    path = path_of(endpoint, world)
    body = endpoint.body(world) if endpoint.body else None
    method = getattr(client, endpoint.method.lower())
    if body is None:
        return method(path)
    return method(path, body, format="json")


CASES = [pytest.param(name, actor, id=f"{name}-{actor}") for name in ENDPOINTS for actor in ACTORS]


@pytest.mark.parametrize(("name", "actor"), CASES)
def test_every_endpoint_answers_each_caller_as_documented(world, name, actor):
    endpoint = ENDPOINTS[name]

    response = call(world.clients[actor], endpoint, world)

    assert response.status_code == endpoint.expected[actor], response.content
    if response.status_code >= 400:
        assert isinstance(response.json().get("detail"), str), response.content
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_matrix_covers_every_operation_in_the_schema(api_client):
    """A new endpoint without a row here fails this test (the admin is tested below)."""
    schema = api_client.get("/api/schema/?format=json").json()
    documented = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    placeholders = {"{product_id}": "{product}", "{order_id}": "{order}", "{user_id}": "{owner}"}

    def normalized(path: str) -> str:
        for name, placeholder in placeholders.items():
            path = path.replace(name, placeholder)
        return path

    covered = {(endpoint.method, endpoint.path) for endpoint in ENDPOINTS.values()}
    assert {(method, normalized(path)) for method, path in documented} <= covered


# --- private resources: 404 that reveals nothing ------------------------------------


@pytest.mark.parametrize("suffix", ["", "/history", "/cancel"])
def test_another_users_order_looks_exactly_like_an_unknown_one(world, suffix):
    other = world.clients["other"]
    method = other.post if suffix == "/cancel" else other.get

    theirs = method(f"/api/orders/{world.order['id']}{suffix}")
    unknown = method(f"/api/orders/{uuid.uuid4()}{suffix}")

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()


def test_order_lists_are_disjoint_between_users(world):
    def ids(actor: str) -> set[str]:
        response = world.clients[actor].get("/api/orders")
        assert response.status_code == 200
        return {order["id"] for order in response.json()["results"]}

    assert world.order["id"] in ids("owner")
    assert world.order["id"] not in ids("other")
    assert world.order["id"] not in ids("staff")  # the list is the caller's own, staff too


def test_notifications_are_the_callers_own(world):
    def ids(actor: str) -> set[str]:
        response = world.clients[actor].get("/api/notifications")
        assert response.status_code == 200
        return {notification["id"] for notification in response.json()["results"]}

    assert world.notification_id in ids("owner")
    assert world.notification_id not in ids("other")
    assert world.notification_id not in ids("staff")


@pytest.mark.parametrize("actor", ["other", "owner", "staff"])
def test_me_is_always_the_caller(world, actor):
    response = world.clients[actor].get("/api/users/me")

    assert response.json()["id"] == str(world.user(actor).id)


def test_a_user_sees_no_email_of_another(world):
    response = world.clients["other"].get(f"/api/users/{world.owner.id}")

    assert response.json() == {"id": str(world.owner.id), "name": world.owner.name}


def test_refused_writes_change_nothing(world):
    other = world.clients["other"]
    product_path = f"/api/products/{world.product['id']}"
    stock_path = f"/api/inventory/{world.product['id']}"
    product_before = world.clients["anonymous"].get(product_path).json()
    stock_before = world.clients["anonymous"].get(stock_path).json()

    assert other.patch(product_path, {"price": "0.01"}, format="json").status_code == 403
    assert other.delete(product_path).status_code == 403
    assert other.post(f"{stock_path}/adjust", {"delta": -5}, format="json").status_code == 403
    assert other.post(f"/api/orders/{world.order['id']}/cancel").status_code == 404

    assert world.clients["anonymous"].get(product_path).json() == product_before
    assert world.clients["anonymous"].get(stock_path).json() == stock_before
    order = world.clients["owner"].get(f"/api/orders/{world.order['id']}").json()
    assert order["status"] == world.order["status"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/products"),
        ("get", "/api/products/{product}"),
        ("get", "/api/inventory/{product}"),
        ("get", "/api/users/me"),
        ("get", "/api/orders"),
    ],
)
@pytest.mark.parametrize(
    "header", ["Bearer not-a-token", "Bearer ", "Token abc", "Bearer a.b.c", "Basic dXNlcjpwYXNz"]
)
def test_a_bad_authorization_header_is_401_even_where_anonymous_may_read(
    world, method, path, header
):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    path = path.format(product=world.product["id"])

    response = getattr(client, method)(path)

    if header.startswith(("Token", "Basic")) and path != "/api/users/me" and path != "/api/orders":
        # Not a Bearer header: ignored, the request is anonymous (and may read).
        assert response.status_code == 200
    else:
        assert response.status_code == 401
        assert "detail" in response.json()


# --- the admin: staff only -----------------------------------------------------------


@pytest.fixture
def admin_client():
    from django.test import Client

    return Client()


def test_the_admin_index_is_for_staff(world, admin_client):
    admin_client.force_login(world.staff)

    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert b"Site administration" in response.content


@pytest.mark.parametrize("actor", ["anonymous", "other", "owner"])
def test_the_admin_index_is_never_shown_to_non_staff(world, admin_client, actor):
    if actor != "anonymous":
        admin_client.force_login(world.user(actor))

    response = admin_client.get("/admin/")

    assert response.status_code in {302, 403}
    assert b"Site administration" not in response.content
    if response.status_code == 302:
        assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("path", ["/admin/", "/admin/users/user/", "/admin/orders/order/"])
def test_a_staff_bearer_token_does_not_open_the_admin(world, path):
    """The admin authenticates by session only: an API token is not a way in."""
    response = world.clients["staff"].get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_non_staff_user_cannot_sign_in_to_the_admin(world, admin_client):
    response = admin_client.post(
        "/admin/login/?next=/admin/",
        {"username": world.owner.email, "password": KNOWN_PASSWORD, "next": "/admin/"},
    )

    assert response.status_code == 200  # the login form again, with an error
    assert b"Site administration" not in response.content
    assert admin_client.get("/admin/").status_code == 302
