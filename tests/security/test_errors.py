"""One JSON error shape for every 4xx and 5xx, documented in the OpenAPI schema.

Errors are ``{"detail": "..."}`` or field errors ``{"<field>": [...]}``; a body
that is not JSON is a 415, malformed JSON a 400; an unexpected failure is
``{"detail": "Internal server error."}`` with no stack trace or SQL (DEBUG off).
"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from contexts.catalog import selectors as catalog_selectors
from contexts.users.tests.factories import UserFactory
from tests.security import boom_urls

pytestmark = pytest.mark.django_db

# Every endpoint that takes a JSON body, and who sends it (so the body is what is judged).
BODY_ENDPOINTS = [
    ("post", "/api/users", "anonymous"),
    ("post", "/api/auth/token", "anonymous"),
    ("post", "/api/auth/token/refresh", "anonymous"),
    ("patch", "/api/users/me", "owner"),
    ("post", "/api/products", "owner"),
    ("patch", "/api/products/{product}", "owner"),
    ("post", "/api/inventory/{product}/adjust", "owner"),
    ("post", "/api/orders", "owner"),
]


def send(world, method: str, path: str, actor: str, body, content_type: str):
    client = world.clients[actor]
    path = path.format(product=world.product["id"])
    return getattr(client, method)(path, body, content_type=content_type)


def assert_error_shape(response) -> None:
    body = response.json()
    assert isinstance(body, dict) and body, response.content
    if "detail" in body:
        assert isinstance(body["detail"], str)
    else:
        assert all(isinstance(messages, list | dict) for messages in body.values()), body


@pytest.mark.parametrize(("method", "path", "actor"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("email=a@example.com&password=x", "application/x-www-form-urlencoded"),
        ("just text", "text/plain"),
        ("<order><total>0</total></order>", "application/xml"),
        ('{"name": "json, but labelled otherwise"}', "text/html"),
        (
            '--B\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--B--\r\n',
            "multipart/form-data; boundary=B",
        ),
    ],
    ids=["form", "text", "xml", "json-as-html", "multipart"],
)
def test_a_body_that_is_not_json_is_415(world, method, path, actor, body, content_type):
    response = send(world, method, path, actor, body, content_type)

    assert response.status_code == 415, response.content
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(("method", "path", "actor"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        '{"name": ',
        "{'single': 'quotes'}",
        '{"price": NaN}',
        '{"delta": Infinity}',
        "[" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        b"\xff\xfe{}",
        "{} trailing",
    ],
    ids=["truncated", "quotes", "nan", "infinity", "deep-array", "deep-object", "bytes", "trail"],
)
def test_malformed_json_is_400(world, method, path, actor, body):
    response = send(world, method, path, actor, body, "application/json")

    assert response.status_code == 400, response.content[:300]
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(("method", "path", "actor"), BODY_ENDPOINTS)
@pytest.mark.parametrize("body", ["[]", '"text"', "1", "null", "true", '[{"name": "x"}]'])
def test_a_json_body_that_is_not_an_object_is_400(world, method, path, actor, body):
    response = send(world, method, path, actor, body, "application/json")

    assert response.status_code == 400, response.content
    assert_error_shape(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/nowhere"),
        ("get", "/api/products/not-a-uuid"),
        ("get", "/api/orders/{unknown}"),
        ("get", "/api/products/"),
        ("put", "/api/products/{product}"),
        ("delete", "/api/users/me"),
        ("get", "/api/auth/token"),
        ("post", "/api/products/{product}"),
        ("get", "/api/products?page=9999"),
        ("get", "/api/products?owner_id=not-a-uuid"),
        ("get", "/api/products?search=" + "x" * 201),
        ("post", "/api/orders/{unknown}/cancel"),
    ],
)
def test_every_error_is_a_json_object(world, method, path):
    path = path.format(product=world.product["id"], unknown=uuid.uuid4())

    response = getattr(world.clients["owner"], method)(path)

    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    assert_error_shape(response)


# --- 5xx: nothing internal leaks ---------------------------------------------------------

INTERNALS = (b"Traceback", b'File "', b"SELECT", b"no_such_table", boom_urls.SECRET.encode())


@pytest.fixture
def failing_app(settings):
    settings.ROOT_URLCONF = "tests.security.boom_urls"
    settings.DEBUG = False
    return APIClient(raise_request_exception=False)


@pytest.mark.parametrize(
    "path", ["/test-only/api-boom", "/test-only/api-bad-sql", "/test-only/plain-boom"]
)
def test_a_forced_500_is_the_generic_json_error(failing_app, path):
    response = failing_app.get(path)

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Internal server error."}
    for leak in INTERNALS:
        assert leak not in response.content


def test_a_failure_inside_a_real_endpoint_leaks_nothing(settings, monkeypatch):
    settings.DEBUG = False

    def broken(**kwargs):
        raise RuntimeError(f"SELECT * FROM catalog_product -- {boom_urls.SECRET}")

    monkeypatch.setattr(catalog_selectors, "product_list", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(UserFactory())

    response = client.get("/api/products")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    for leak in INTERNALS:
        assert leak not in response.content


# --- the schema documents the errors ------------------------------------------------------


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_the_schema_has_the_error_components(schema):
    components = schema["components"]["schemas"]

    assert components["Error"]["required"] == ["detail"]
    assert components["Error"]["properties"]["detail"]["type"] == "string"
    assert components["ValidationError"]["type"] == "object"


def test_every_error_response_of_every_operation_has_a_json_body(schema):
    for method, path, operation in operations(schema):
        for code, response in operation["responses"].items():
            if int(code) < 400:
                continue
            assert "application/json" in response.get("content", {}), (method, path, code)


def test_every_operation_documents_the_errors_that_apply(schema):
    for method, path, operation in operations(schema):
        codes = set(operation["responses"])
        assert "500" in codes, (method, path)
        # Health probes are never throttled; every other operation may be.
        assert ("429" in codes) is not path.startswith("/health"), (method, path)
        if operation.get("requestBody"):
            assert {"400", "413", "415"} <= codes, (method, path)
        if any(requirement for requirement in operation.get("security", [])):
            assert "401" in codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if "429" in codes:
            retry_after = operation["responses"]["429"]["headers"]["Retry-After"]
            assert retry_after["schema"]["type"] == "integer"


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("PATCH", "/api/products/{product_id}", {"403"}),
        ("DELETE", "/api/products/{product_id}", {"403"}),
        ("POST", "/api/inventory/{product_id}/adjust", {"403", "409"}),
        ("POST", "/api/orders/{order_id}/cancel", {"409"}),
        ("POST", "/api/orders", {"409", "422"}),
        ("POST", "/api/auth/token", {"401"}),
        ("POST", "/api/auth/token/refresh", {"401"}),
    ],
)
def test_business_errors_are_documented(schema, method, path, codes):
    assert codes <= set(schema["paths"][path][method.lower()]["responses"])


def test_the_refresh_answer_documents_the_rotated_refresh_token(schema):
    ok = schema["paths"]["/api/auth/token/refresh"]["post"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]

    assert set(schema["components"]["schemas"][ref]["properties"]) == {"access", "refresh"}
