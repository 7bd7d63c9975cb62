"""The catalog's HTTP API as docs/api.md describes it: every success and every error status."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connections

from contexts.catalog.models import Product
from contexts.catalog.tests.factories import ProductFactory
from contexts.kernel.databases import database_for

pytestmark = pytest.mark.django_db

PRODUCT_KEYS = {"id", "sku", "name", "description", "price", "currency", "owner_id", "created_at"}


def new_product(**overrides):
    return {"sku": "MUG-1", "name": "Mug", "description": "A mug.", "price": "19.99", **overrides}


# --- POST /api/products -------------------------------------------------------------


def test_create_returns_the_product_owned_by_the_caller(auth_client, user):
    response = auth_client.post("/api/products", new_product(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == PRODUCT_KEYS
    assert body["sku"] == "MUG-1"
    assert body["name"] == "Mug"
    assert body["description"] == "A mug."
    assert body["price"] == "19.99"
    assert body["currency"] == "USD"
    assert body["owner_id"] == str(user.id)
    assert Product.objects.filter(pk=body["id"]).exists()


def test_create_without_description_defaults_to_empty(auth_client):
    response = auth_client.post(
        "/api/products", {"sku": "A-1", "name": "A", "price": 5}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["description"] == ""
    assert response.json()["price"] == "5.00"


def test_create_ignores_owner_currency_and_id_sent_by_the_client(auth_client, user):
    sent = new_product(owner_id=str(uuid.uuid4()), currency="EUR", id=str(uuid.uuid4()))

    response = auth_client.post("/api/products", sent, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner_id"] == str(user.id)
    assert body["currency"] == "USD"
    assert body["id"] != sent["id"]


def test_create_rejects_a_duplicate_sku(auth_client):
    assert auth_client.post("/api/products", new_product(), format="json").status_code == 201

    response = auth_client.post("/api/products", new_product(name="Other"), format="json")

    assert response.status_code == 400
    assert "sku" in response.json()
    assert Product.objects.count() == 1


def test_create_treats_skus_differing_only_in_case_as_duplicates(auth_client):
    assert (
        auth_client.post("/api/products", new_product(sku="ab-1"), format="json").status_code == 201
    )

    response = auth_client.post("/api/products", new_product(sku="AB-1"), format="json")

    assert response.status_code == 400
    assert "sku" in response.json()


@pytest.mark.parametrize("price", ["0", "0.00", "-1", -5, "-0.01"])
def test_create_rejects_a_price_not_above_zero(auth_client, price):
    response = auth_client.post("/api/products", new_product(price=price), format="json")

    assert response.status_code == 400
    assert "price" in response.json()
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    "price", ["abc", "1.999", "12345678901.00", "1e20", "NaN", "Infinity", True, None, [], {}]
)
def test_create_rejects_a_malformed_price(auth_client, price):
    response = auth_client.post("/api/products", new_product(price=price), format="json")

    assert response.status_code == 400
    assert "price" in response.json()


@pytest.mark.parametrize("field", ["sku", "name", "description"])
@pytest.mark.parametrize("value", [123, 1.5, True, ["x"], {"x": 1}])
def test_create_rejects_a_text_field_that_is_not_a_json_string(auth_client, field, value):
    response = auth_client.post("/api/products", new_product(**{field: value}), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Product.objects.exists()


@pytest.mark.parametrize("missing", ["sku", "name", "price"])
def test_create_rejects_a_missing_field(auth_client, missing):
    body = new_product()
    del body[missing]

    response = auth_client.post("/api/products", body, format="json")

    assert response.status_code == 400
    assert missing in response.json()


@pytest.mark.parametrize(
    "field,value",
    [
        ("sku", ""),
        ("sku", "   "),
        ("sku", "x" * 65),
        ("sku", "a\x00b"),
        ("name", ""),
        ("name", "n" * 201),
        ("name", None),
        ("description", "d" * 5001),
    ],
)
def test_create_rejects_a_bad_text_field(auth_client, field, value):
    response = auth_client.post("/api/products", new_product(**{field: value}), format="json")

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("body", [[], "text", 42, None])
def test_create_rejects_a_body_that_is_not_an_object(auth_client, body):
    response = auth_client.post("/api/products", body, format="json")

    assert response.status_code == 400
    assert response.json()


def test_create_rejects_a_body_that_is_not_json(auth_client):
    malformed = auth_client.post("/api/products", "{not json", content_type="application/json")
    form = auth_client.post(
        "/api/products", "sku=a", content_type="application/x-www-form-urlencoded"
    )

    assert malformed.status_code == 400
    assert form.status_code == 415
    assert "detail" in form.json()


def test_create_needs_authentication(api_client):
    response = api_client.post("/api/products", new_product(), format="json")

    assert response.status_code == 401
    assert not Product.objects.exists()


def test_create_by_an_account_the_users_context_no_longer_accepts_is_refused(
    make_auth_client, user
):
    client = make_auth_client(user)
    user.is_active = False
    user.save()

    response = client.post("/api/products", new_product(), format="json")

    assert response.status_code in (401, 403)
    assert not Product.objects.exists()


# --- GET /api/products ----------------------------------------------------------------


def test_list_is_public_paginated_and_newest_first(api_client):
    older = ProductFactory()
    newer = ProductFactory()

    response = api_client.get("/api/products")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["next"] is None and body["previous"] is None
    assert [p["id"] for p in body["results"]] == [str(newer.id), str(older.id)]
    assert set(body["results"][0]) == PRODUCT_KEYS


def test_list_pages_are_capped_at_one_hundred(api_client):
    ProductFactory.create_batch(3)

    first = api_client.get("/api/products?page_size=2").json()
    capped = api_client.get("/api/products?page_size=1000")

    assert len(first["results"]) == 2
    assert first["next"] is not None
    assert capped.status_code == 200
    assert capped.json()["count"] == 3


def test_list_searches_name_sku_and_description_in_any_case(api_client):
    by_name = ProductFactory(name="Blue Teapot")
    by_sku = ProductFactory(sku="TEAPOT-9")
    by_description = ProductFactory(description="pairs well with a teapot")
    ProductFactory(name="Mug")

    response = api_client.get("/api/products?search=teaPOT")

    assert response.status_code == 200
    found = {p["id"] for p in response.json()["results"]}
    assert found == {str(by_name.id), str(by_sku.id), str(by_description.id)}


def test_list_filters_by_owner(api_client):
    owner = uuid.uuid4()
    mine = ProductFactory(owner_id=owner)
    ProductFactory()

    response = api_client.get(f"/api/products?owner_id={owner}")

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [str(mine.id)]


@pytest.mark.parametrize("query", ["owner_id=not-a-uuid", "owner_id=1", "search=a%00b"])
def test_list_rejects_malformed_filters_with_json(api_client, query):
    response = api_client.get(f"/api/products?{query}")

    assert response.status_code == 400
    assert response.json()


def test_an_empty_owner_filter_is_no_filter(api_client):
    ProductFactory.create_batch(2)

    response = api_client.get("/api/products?owner_id=&search=")

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_list_uses_a_constant_number_of_queries(api_client, django_assert_max_num_queries):
    ProductFactory.create_batch(30)

    with django_assert_max_num_queries(2, connection=connections[database_for("catalog")]):
        response = api_client.get("/api/products?page_size=30")

    assert len(response.json()["results"]) == 30


# --- GET /api/products/{id} -----------------------------------------------------------


def test_detail_is_public(api_client):
    product = ProductFactory(price=Decimal("7.5"))

    response = api_client.get(f"/api/products/{product.id}")

    assert response.status_code == 200
    assert response.json()["id"] == str(product.id)
    assert response.json()["price"] == "7.50"


def test_detail_of_an_unknown_product_is_404(api_client):
    response = api_client.get(f"/api/products/{uuid.uuid4()}")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_detail_with_a_malformed_id_is_a_json_404(api_client):
    response = api_client.get("/api/products/not-a-uuid")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- PATCH /api/products/{id} ---------------------------------------------------------


def test_owner_patches_name_description_and_price(make_auth_client, user):
    product = ProductFactory(owner_id=user.id, price=Decimal("10.00"))

    response = make_auth_client(user).patch(
        f"/api/products/{product.id}",
        {"name": "New", "description": "Better.", "price": "12.50"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["description"], body["price"]) == ("New", "Better.", "12.50")
    product.refresh_from_db()
    assert product.price == Decimal("12.50")


def test_staff_patches_anyones_product(make_auth_client, staff_user):
    product = ProductFactory()

    response = make_auth_client(staff_user).patch(
        f"/api/products/{product.id}", {"name": "By staff"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "By staff"


def test_patch_ignores_fields_that_are_not_editable(make_auth_client, user):
    product = ProductFactory(owner_id=user.id, sku="KEEP-1")

    response = make_auth_client(user).patch(
        f"/api/products/{product.id}",
        {"sku": "CHANGED", "owner_id": str(uuid.uuid4()), "currency": "EUR"},
        format="json",
    )

    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.sku, product.owner_id, product.currency) == ("KEEP-1", user.id, "USD")


def test_patch_by_another_user_is_403(auth_client):
    product = ProductFactory(name="Theirs")

    response = auth_client.patch(f"/api/products/{product.id}", {"name": "Mine"}, format="json")

    assert response.status_code == 403
    product.refresh_from_db()
    assert product.name == "Theirs"


def test_patch_anonymous_is_401(api_client):
    product = ProductFactory()

    response = api_client.patch(f"/api/products/{product.id}", {"name": "x"}, format="json")

    assert response.status_code == 401


def test_patch_of_an_unknown_product_is_404(auth_client):
    response = auth_client.patch(f"/api/products/{uuid.uuid4()}", {"name": "x"}, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize("body", [{"price": "0"}, {"price": "x"}, {"name": ""}, {"name": None}])
def test_patch_rejects_invalid_values(make_auth_client, user, body):
    product = ProductFactory(owner_id=user.id, name="Same", price=Decimal("3.00"))

    response = make_auth_client(user).patch(f"/api/products/{product.id}", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == set(body)
    product.refresh_from_db()
    assert (product.name, product.price) == ("Same", Decimal("3.00"))


# --- DELETE /api/products/{id} --------------------------------------------------------


def test_owner_deletes_their_product(make_auth_client, user, api_client):
    product = ProductFactory(owner_id=user.id)

    response = make_auth_client(user).delete(f"/api/products/{product.id}")

    assert response.status_code == 204
    assert api_client.get(f"/api/products/{product.id}").status_code == 404


def test_staff_deletes_anyones_product(make_auth_client, staff_user):
    product = ProductFactory()

    response = make_auth_client(staff_user).delete(f"/api/products/{product.id}")

    assert response.status_code == 204
    assert not Product.objects.filter(pk=product.id).exists()


def test_delete_by_another_user_is_403(auth_client):
    product = ProductFactory()

    response = auth_client.delete(f"/api/products/{product.id}")

    assert response.status_code == 403
    assert Product.objects.filter(pk=product.id).exists()


def test_delete_anonymous_is_401_and_unknown_is_404(api_client, auth_client):
    product = ProductFactory()

    assert api_client.delete(f"/api/products/{product.id}").status_code == 401
    assert auth_client.delete(f"/api/products/{uuid.uuid4()}").status_code == 404


def test_unsupported_method_is_405(auth_client):
    product = ProductFactory()

    response = auth_client.put(f"/api/products/{product.id}", {"name": "x"}, format="json")

    assert response.status_code == 405
