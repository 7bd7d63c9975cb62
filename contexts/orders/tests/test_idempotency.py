"""Idempotency-Key on POST /api/orders (docs/api.md; a retried POST has one effect)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections

from contexts.orders.models import IdempotencyRecord, Order
from contexts.orders.services import idempotency_keys_purge


def body(product, quantity=1, token="tok_ok"):
    return {"items": [{"product_id": product["id"], "quantity": quantity}], "payment_token": token}


@pytest.mark.django_db
def test_the_same_key_and_body_return_the_same_order(auth_client, make_product):
    product = make_product()

    first = auth_client.post("/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = auth_client.post("/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert first.status_code == 201, first.content
    assert again.status_code in (200, 201), again.content
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_gets_422(auth_client, make_product):
    product = make_product()
    auth_client.post("/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    other_quantity = auth_client.post(
        "/api/orders", body(product, quantity=2), format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    other_token = auth_client.post(
        "/api/orders", body(product, token="tok_other"), format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert other_quantity.status_code == 422
    assert "detail" in other_quantity.json()
    assert other_token.status_code == 422
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_one_user(auth_client, make_user, make_auth_client, make_product):
    product = make_product()
    other = make_auth_client(make_user())

    mine = auth_client.post("/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="k")
    theirs = other.post(
        "/api/orders", body(product, quantity=5), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert mine.status_code == 201
    assert theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_without_a_key_every_post_is_a_new_order(auth_client, make_product):
    product = make_product()

    first = auth_client.post("/api/orders", body(product), format="json")
    second = auth_client.post("/api/orders", body(product), format="json")

    assert first.json()["id"] != second.json()["id"]
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_a_rejected_request_does_not_use_up_the_key(auth_client, make_product):
    product = make_product()

    bad = auth_client.post(
        "/api/orders", body(product, quantity=0), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    good = auth_client.post("/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert bad.status_code == 400
    assert good.status_code == 201
    assert IdempotencyRecord.objects.get().order_id is not None


@pytest.mark.django_db
def test_expired_keys_are_forgotten(auth_client, make_product, settings):
    product = make_product()
    first = auth_client.post("/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyRecord.objects.update(created_at=first_created_minus(hours=25))

    again = auth_client.post("/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_the_purge_deletes_only_expired_keys(auth_client, make_product):
    product = make_product()
    auth_client.post("/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="old")
    auth_client.post("/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyRecord.objects.filter(key="old").update(created_at=first_created_minus(hours=25))

    purged = idempotency_keys_purge()

    assert purged == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert Order.objects.count() == 2


def first_created_minus(*, hours: int):
    from django.utils import timezone

    return timezone.now() - timedelta(hours=hours)


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_order(
    make_user, make_auth_client, make_product
):
    product = make_product(stock=50)
    buyer = make_user()
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    responses = []
    lock = threading.Lock()

    def post():
        client = make_auth_client(buyer)
        try:
            barrier.wait(timeout=30)
            response = client.post(
                "/api/orders", body(product), format="json", HTTP_IDEMPOTENCY_KEY="same-key"
            )
            with lock:
                responses.append(response)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(responses) == threads_count
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 201, 409}, [r.content for r in responses]
    ids = {r.json()["id"] for r in responses if r.status_code in (200, 201)}
    assert len(ids) == 1
    assert Order.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_and_different_bodies(
    make_user, make_auth_client, make_product
):
    product = make_product(stock=50)
    buyer = make_user()
    barrier = threading.Barrier(4)
    responses = []
    lock = threading.Lock()

    def post(quantity):
        client = make_auth_client(buyer)
        try:
            barrier.wait(timeout=30)
            response = client.post(
                "/api/orders",
                body(product, quantity=quantity),
                format="json",
                HTTP_IDEMPOTENCY_KEY="k",
            )
            with lock:
                responses.append(response)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(q,)) for q in (1, 1, 2, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Order.objects.count() == 1
    winner = Order.objects.get()
    for response in responses:
        if response.status_code in (200, 201):
            assert response.json()["id"] == str(winner.id)
        else:
            assert response.status_code in (409, 422), response.content
    assert sum(r.status_code == 422 for r in responses) == 2
