"""``/api/schema/`` is valid OpenAPI 3.0 and useful: filters, examples and error bodies.

``scripts/check_client.sh`` (run by ``make lint``) goes one step further and
generates a Python client from the same document with openapi-python-client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from openapi_spec_validator import OpenAPIV30SpecValidator

from contexts.kernel.filters import DATE_OR_DATETIME_PATTERN

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(api_client) -> dict[str, Any]:
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def subschemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every dict in the document that has a ``type``, with a JSON pointer-ish location."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield where, node
        for key, value in node.items():
            if key not in {"example", "examples"}:
                yield from subschemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from subschemas(value, f"{where}/{index}")


def inline(node: Any, components: dict[str, Any]) -> Any:
    """``node`` with every ``#/components/schemas/`` reference replaced by its schema."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return inline(components[ref.rsplit("/", 1)[-1]], components)
        return {key: inline(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [inline(value, components) for value in node]
    return node


def test_the_schema_passes_openapi_spec_validator(document):
    OpenAPIV30SpecValidator(document).validate()  # raises on the first error


def test_every_array_schema_says_what_its_items_are(document):
    # OpenAPI 3.0 requires ``items`` with ``type: array``; a generated client drops
    # a schema without it (openapi-python-client did so with ValidationError).
    arrays = [(where, s) for where, s in subschemas(document) if s["type"] == "array"]

    assert arrays
    assert [where for where, schema in arrays if "items" not in schema] == []


def test_every_example_matches_its_schema(document):
    components = document["components"]["schemas"]
    checked = 0
    for method, path, operation in operations(document):
        bodies = [("request", operation.get("requestBody", {}).get("content", {}))]
        bodies += [(code, r.get("content", {})) for code, r in operation["responses"].items()]
        for code, content in bodies:
            media = content.get("application/json", {})
            validator_class = OAS30WriteValidator if code == "request" else OAS30ReadValidator
            validator = validator_class(
                inline(media.get("schema", {}), components), format_checker=oas30_format_checker
            )
            for name, example in media.get("examples", {}).items():
                errors = [error.message for error in validator.iter_errors(example["value"])]
                assert errors == [], (method, path, code, name)
                checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    ("path", "method", "code"),
    [
        ("/api/orders", "post", "request"),
        ("/api/orders", "post", "201"),
        ("/api/orders", "post", "400"),
        ("/api/orders", "post", "409"),
        ("/api/orders", "post", "422"),
        ("/api/orders", "get", "200"),
        ("/api/orders/{order_id}", "get", "200"),
        ("/api/orders/{order_id}/history", "get", "200"),
        ("/api/orders/{order_id}/cancel", "post", "200"),
        ("/api/orders/{order_id}/cancel", "post", "409"),
    ],
)
def test_the_order_bodies_have_examples(document, path, method, code):
    operation = document["paths"][path][method]
    holder = operation["requestBody"] if code == "request" else operation["responses"][code]

    assert holder["content"]["application/json"]["examples"]


def test_every_shared_error_response_has_an_example(document):
    shared = {"#/components/schemas/Error", "#/components/schemas/ValidationError"}
    seen = set()
    for method, path, operation in operations(document):
        for code, response in operation["responses"].items():
            media = response["content"]["application/json"] if int(code) >= 400 else {}
            if media.get("schema", {}).get("$ref") in shared:
                assert media.get("examples"), (method, path, code)
                seen.add(code)
    assert {"400", "401", "404", "409", "413", "415", "422", "429", "500"} <= seen


def test_the_history_example_is_oldest_first_and_names_entry_types(document):
    history = document["paths"]["/api/orders/{order_id}/history"]["get"]["responses"]["200"]
    [example] = history["content"]["application/json"]["examples"].values()
    entries = example["value"]["results"]

    assert [e["sequence"] for e in entries] == sorted(e["sequence"] for e in entries)
    assert entries[0]["type"] == "ORDER_PLACED"


def parameters(document: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}


def test_the_order_filters_are_documented(document):
    params = parameters(document, "/api/orders")

    assert params["status"]["schema"]["enum"] == ["CANCELLED", "CONFIRMED", "PENDING"]
    for name in ("created_after", "created_before"):
        assert params[name]["in"] == "query"
        assert params[name]["schema"]["pattern"] == DATE_OR_DATETIME_PATTERN
        assert "00:00 UTC" in params[name]["description"]
    assert "400" in document["paths"]["/api/orders"]["get"]["responses"]


def test_the_notification_filter_is_documented(document):
    params = parameters(document, "/api/notifications")

    assert params["kind"]["schema"]["enum"] == ["ORDER_CANCELLED", "ORDER_CONFIRMED", "WELCOME"]


def test_the_product_filters_are_documented(document):
    params = parameters(document, "/api/products")

    assert set(params["ordering"]["schema"]["enum"]) == {
        "price",
        "-price",
        "name",
        "-name",
        "created_at",
        "-created_at",
    }
    for name in ("min_price", "max_price"):
        assert params[name]["schema"]["type"] == "string"
        assert params[name]["schema"]["format"] == "decimal"
        assert params[name]["schema"]["pattern"].startswith("^")
    assert params["owner_id"]["schema"]["format"] == "uuid"
    assert params["search"]["schema"]["maxLength"] == 200
