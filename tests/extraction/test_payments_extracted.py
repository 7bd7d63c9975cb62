"""Payments as its own deployment: the monolith charges and refunds over the internal API.

Two deployments, each on a database of its own, sharing one Redis:

- the monolith, ``SHOP_CONTEXTS=users,catalog,inventory,orders,notifications``
  with ``PAYMENTS_URL``: gunicorn, a Celery worker (the saga loop, the event
  deliveries) and beat;
- payments, ``SHOP_CONTEXTS=payments``: gunicorn (the internal API), a worker
  (reconciliation, its event sweep) and beat.

Orders are placed through the monolith's public API, once for every payment
token docs/api.md lists, and end as it documents; the payments deployment's
ledger (the simulated gateway's table, on its database) shows each charged at
most once. Then the payments web process is killed for 10 s in the middle of
a burst of orders: they wait, then confirm (or compensate), none is lost and
none is charged twice. The processes start once for the module.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from itertools import count
from typing import Any

import httpx
import pytest

from contexts.kernel.testing import ConditionNotMet, wait_for
from tests.extraction.deployments import (
    SERVICE_TOKEN,
    ServiceDeployment,
    foreign_tables,
    running,
)

pytestmark = pytest.mark.extraction

PASSWORD = "correct-horse-battery-staple"
MONOLITH = "users,catalog,inventory,orders,notifications"
OUTAGE_SECONDS = 10
_skus = count()

#: Both sides: a hanging gateway call gives up after 1 s (the hop waits that long per order).
SHARED_ENV = {"PAYMENT_GATEWAY_TIMEOUT_SECONDS": "1"}
#: The saga retries a charge for ~27 s (0.5 s doubling, capped at 4 s, 10 attempts):
#: longer than the outage and the restart, so orders placed during it wait and confirm.
MONOLITH_ENV = {
    **SHARED_ENV,
    "ORDERS_PAYMENT_MAX_ATTEMPTS": "10",
    "ORDERS_SAGA_RETRY_BASE_SECONDS": "0.5",
    "ORDERS_SAGA_RETRY_MAX_SECONDS": "4",
    "INTERNAL_API_RETRIES": "1",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}
PAYMENTS_ENV = {**SHARED_ENV, "PAYMENTS_RECONCILE_INTERVAL_SECONDS": "2"}

MONOLITH_OWN = ("users_", "token_blacklist_", "catalog_", "inventory_", "orders_",
                "notifications_")  # fmt: skip


@pytest.fixture(scope="module")
def deployments(tmp_path_factory) -> Iterator[dict[str, ServiceDeployment]]:
    directory = tmp_path_factory.mktemp("payments-extracted")
    payments = ServiceDeployment(
        "payments", contexts="payments", directory=directory, env=PAYMENTS_ENV
    )
    monolith = ServiceDeployment(
        "monolith",
        contexts=MONOLITH,
        directory=directory,
        env={**MONOLITH_ENV, "PAYMENTS_URL": payments.url},
        concurrency=2,
    )
    with running(payments, monolith, queues=["email"]):
        yield {"payments": payments, "monolith": monolith}


@pytest.fixture(scope="module")
def monolith(deployments) -> ServiceDeployment:
    return deployments["monolith"]


@pytest.fixture(scope="module")
def payments(deployments) -> ServiceDeployment:
    return deployments["payments"]


@pytest.fixture(scope="module")
def shop(monolith) -> Iterator[httpx.Client]:
    """A customer of the monolith, signed in (they sell the products they buy, too)."""
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=monolith.url, timeout=30) as client:
        created = client.post(
            "/api/users", json={"email": email, "name": "Ada", "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        signed_in = client.post("/api/auth/token", json={"email": email, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        client.headers["Authorization"] = f"Bearer {signed_in.json()['access']}"
        yield client


def product(shop: httpx.Client, *, stock: int) -> dict[str, Any]:
    created = shop.post(
        "/api/products",
        json={"sku": f"PAY-{next(_skus):05d}", "name": "Mug", "price": "12.50"},
    )
    assert created.status_code == 201, created.text
    item = created.json()

    def adjusted() -> bool:
        # The stock row is created by inventory's handler of ProductCreated (the worker).
        response = shop.post(f"/api/inventory/{item['id']}/adjust", json={"delta": stock})
        return response.status_code == 200

    wait_for(adjusted, timeout=30, interval=0.2, message="no stock row for the new product")
    return item


def place(shop: httpx.Client, item: dict[str, Any], token: str, **headers: str) -> str:
    response = shop.post(
        "/api/orders",
        json={"items": [{"product_id": item["id"], "quantity": 1}], "payment_token": token},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def finals(shop: httpx.Client, order_ids: list[str], *, timeout: float) -> dict[str, dict]:
    """Every order once it left PENDING (polled through the public API)."""
    done: dict[str, dict] = {}

    def all_final() -> bool:
        for order_id in order_ids:
            if order_id not in done:
                order = shop.get(f"/api/orders/{order_id}").json()
                if order["status"] != "PENDING":
                    done[order_id] = order
        return len(done) == len(order_ids)

    try:
        wait_for(all_final, timeout=timeout, interval=0.3)
    except ConditionNotMet:
        raise ConditionNotMet(f"still PENDING: {sorted(set(order_ids) - set(done))}") from None
    return done


def history(shop: httpx.Client, order_id: str) -> list[str]:
    return [e["type"] for e in shop.get(f"/api/orders/{order_id}/history").json()["results"]]


def charges(payments: ServiceDeployment, order_id: str) -> int:
    """Charges the gateway made for the order (its ledger, on the payments database)."""
    [(made,)] = payments.rows(
        "SELECT count(*) FROM payments_simulatedgatewayoperation "
        "WHERE idempotency_key = %s AND kind = 'CHARGE' AND outcome = 'APPROVED'",
        f"charge:{order_id}",
    )
    return int(made)


def payment(payments: ServiceDeployment, order_id: str) -> dict | None:
    """The order's payment as the payments deployment's internal API answers it."""
    response = httpx.get(
        f"{payments.url}/internal/v1/payments/orders/{order_id}/payment",
        headers={"Authorization": f"Service {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert response.status_code in (200, 404), response.text
    return response.json() if response.status_code == 200 else None


def status_of(payments: ServiceDeployment, order_id: str) -> str | None:
    taken = payment(payments, order_id)
    return taken["status"] if taken is not None else None


#: token -> (status, cancel reason, the payment's status, charges made), as docs/api.md says.
DOCUMENTED = {
    "tok_ok": ("CONFIRMED", None, "CAPTURED", 1),
    "tok_visa": ("CONFIRMED", None, "CAPTURED", 1),
    "tok_decline": ("CANCELLED", "PAYMENT_DECLINED", "DECLINED", 0),
    "tok_fail_once": ("CONFIRMED", None, "CAPTURED", 1),
    "tok_fail": ("CANCELLED", "PAYMENT_FAILED", None, 0),
    "tok_lost_reply": ("CONFIRMED", None, "CAPTURED", 1),
    "tok_hang_once": ("CONFIRMED", None, "CAPTURED", 1),
    "tok_hang": ("CANCELLED", "PAYMENT_FAILED", None, 0),
    "tok_refund_fail_2": ("CONFIRMED", None, "CAPTURED", 1),
    "tok_refund_reject": ("CONFIRMED", None, "CAPTURED", 1),
}


def test_every_payment_token_ends_as_documented_charged_at_most_once(shop, monolith, payments):
    item = product(shop, stock=len(DOCUMENTED) + 2)
    orders = {
        token: place(shop, item, token, **{"X-Request-ID": f"ext-pay-{token}"})
        for token in DOCUMENTED
    }
    empty = shop.post(
        "/api/orders",
        json={"items": [{"product_id": item["id"], "quantity": 1}], "payment_token": ""},
    )

    ended = finals(shop, list(orders.values()), timeout=90)

    assert empty.status_code == 400
    for token, (status, reason, paid, charged) in DOCUMENTED.items():
        order_id = orders[token]
        order = ended[order_id]
        assert (order["status"], order["cancel_reason"]) == (status, reason), token
        assert charges(payments, order_id) == charged, token
        taken = payment(payments, order_id)
        if paid is None:
            assert taken is None or taken["status"] != "CAPTURED", token
        else:
            assert taken is not None and taken["status"] == paid, token
        types = history(shop, order_id)
        assert types.count("PAYMENT_CAPTURED") == charged, token
    for token in ("tok_fail_once", "tok_lost_reply", "tok_hang_once"):
        assert "PAYMENT_RETRY_SCHEDULED" in history(shop, orders[token]), token
    # The saga's calls carried each order's correlation id to the payments deployment.
    assert "ext-pay-tok_ok" in payments.logs()

    # Cancelling a confirmed order refunds it over the hop.
    retried = shop.post(f"/api/orders/{orders['tok_refund_fail_2']}/cancel")
    rejected = shop.post(f"/api/orders/{orders['tok_refund_reject']}/cancel")
    refunded = shop.post(f"/api/orders/{orders['tok_ok']}/cancel")

    for response in (retried, rejected, refunded):
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "CANCELLED"
    assert status_of(payments, orders["tok_ok"]) == "REFUNDED"
    assert "PAYMENT_REFUND_PENDING" in history(shop, orders["tok_refund_fail_2"])
    wait_for(
        lambda: status_of(payments, orders["tok_refund_fail_2"]) == "REFUNDED",
        timeout=60,
        interval=0.3,
        message="the pending refund was not retried",
    )
    assert history(shop, orders["tok_refund_fail_2"])[-1] == "PAYMENT_REFUNDED"
    # The rejection comes back from the hop as the contract's error: final, staff's to resubmit.
    wait_for(
        lambda: history(shop, orders["tok_refund_reject"])[-1] == "PAYMENT_REFUND_AWAITS_STAFF",
        timeout=60,
        interval=0.3,
        message="the rejected refund was not left for staff",
    )
    assert status_of(payments, orders["tok_refund_reject"]) == "CAPTURED"
    for token in DOCUMENTED:
        assert charges(payments, orders[token]) <= 1, token


def test_payments_down_for_ten_seconds_orders_wait_then_end_each_charged_once(
    shop, monolith, payments
):
    item = product(shop, stock=40)
    before = [place(shop, item, "tok_ok") for _ in range(6)]

    payments.kill_web()  # mid-run: some of these charges are in flight, their replies lost
    went_down = time.monotonic()
    try:
        during = [place(shop, item, "tok_ok") for _ in range(6)]
        while time.monotonic() - went_down < OUTAGE_SECONDS:
            # Nothing confirms without payments; nothing is given up either (yet).
            statuses = {shop.get(f"/api/orders/{o}").json()["status"] for o in during}
            assert statuses == {"PENDING"}
            time.sleep(0.5)  # the outage's length, not a synchronisation
    finally:
        payments.start()

    ended = finals(shop, before + during, timeout=90)

    for order_id, order in ended.items():
        made = charges(payments, order_id)
        taken = payment(payments, order_id)
        if order["status"] == "CONFIRMED":
            assert made == 1 and taken is not None and taken["status"] == "CAPTURED"
        else:
            # Compensated: whatever may have been taken is given back.
            assert order["cancel_reason"] == "PAYMENT_FAILED", order
            assert made <= 1 and (taken is None or taken["status"] != "CAPTURED")
    waited = [o for o in during if "PAYMENT_RETRY_SCHEDULED" in history(shop, o)]
    assert waited, "no order placed during the outage retried its charge"
    assert any(ended[o]["status"] == "CONFIRMED" for o in waited)


def test_each_deployment_runs_its_own_background_work_on_its_own_queues(monolith, payments):
    assert "default-payments" in payments.worker_logs()
    assert "default-users-catalog-inventory-orders-notifications" in monolith.worker_logs()
    wait_for(
        lambda: "payments.reconcile_payments" in payments.worker_logs(),
        timeout=30,
        interval=0.5,
        message="the payments worker never reconciled",
    )
    assert "payments.reconcile_payments" not in monolith.worker_logs()
    assert "payments.reconcile_payments" in payments.beat_logs()
    assert "orders.resume_stalled_sagas" in monolith.beat_logs()
    schema = httpx.get(
        f"{payments.url}/internal/schema/",
        headers={"Authorization": f"Service {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert schema.status_code == 200
    assert "/internal/v1/payments/charges" in schema.text


def test_each_database_holds_only_its_own_context_kernel_and_django_tables(monolith, payments):
    for deployment, own in ((monolith, MONOLITH_OWN), (payments, ("payments_",))):
        assert foreign_tables(deployment, own) == [], deployment.name
        assert {"kernel_outboxmessage", "django_migrations"} <= deployment.tables()
    assert not any(t.startswith("payments_") for t in monolith.tables())
    assert "payments_payment" in payments.tables()
    assert "orders_order" not in payments.tables()
