"""Property-based fuzzing of the whole API (docs/reliability.md#malformed-input).

1. Schemathesis reads the app's own OpenAPI document (``/api/schema/``, served
   in-process through the WSGI app) and tests EVERY operation with generated
   valid and invalid requests, authenticated as a real user: no 5xx, and status
   codes, content types, headers and bodies as the schema documents them.
2. Hypothesis posts arbitrary JSON (and JSON shaped like the API's bodies) to
   every write endpoint: never a 5xx, always a JSON object back.

Both are deterministic (fixed seed, derandomized) and bounded in examples, so
they run in ``make test`` (they live under ``tests/``) in about a minute or two.
Requests run inside each test's database transaction: the WSGI app is called
in-process on the test's connection (see ``wsgi_in_test_transaction``).
"""

from __future__ import annotations

import uuid
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import negative_data_rejection
from schemathesis.config import SchemathesisConfig

from contexts.notifications.tests.factories import NotificationFactory
from contexts.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db  # every context's database (split mode too)

SEED = 20_251_125
EXAMPLES_PER_OPERATION = 30

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",  # valid and invalid requests
            "max-examples": EXAMPLES_PER_OPERATION,
            "deterministic": True,
            "database": "none",  # nothing written to .hypothesis/: same run every time
            # Unknown query parameters are ignored by design, as most HTTP APIs do.
            "allow-extra-parameters": False,
        },
        "checks": {
            # Business rules beyond what a schema can say (password strength, unique
            # sku and email, existing products, stock) reject schema-valid requests.
            "positive_data_acceptance": {"enabled": False},
        },
        "phases": {"stateful": {"enabled": False}},
    }
)

# The schema is loaded from the running app at collection time: one test per operation.
APP = WSGIHandler()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", APP, config=CONFIG)

_HYPOTHESIS = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture
def shop(db, settings) -> dict[str, Any]:
    """A real user (and a bearer token) with a product in stock, an order and a notification.

    Hashing is fast here: the hash is not under test.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    product = client.post(
        "/api/products", {"sku": "FUZZ-1", "name": "Fuzzed", "price": "2.50"}, format="json"
    ).json()
    client.post(f"/api/inventory/{product['id']}/adjust", {"delta": 50}, format="json")
    order = client.post(
        "/api/orders",
        {"items": [{"product_id": product["id"], "quantity": 1}], "payment_token": "tok_ok"},
        format="json",
    ).json()
    NotificationFactory(user_id=user.id)
    return {
        "client": client,
        "headers": {"Authorization": f"Bearer {AccessToken.for_user(user)}"},
        "ids": {"product_id": product["id"], "order_id": order["id"], "user_id": str(user.id)},
    }


@pytest.fixture
def wsgi_in_test_transaction(shop):
    """Serve in-process WSGI requests on the test's own connection and transaction.

    Django closes "old" connections around each request; inside a test's
    transaction that would break it, so (as Django's test client does) that
    hook is off while the test runs. After ``shop``: the test client turns it
    back on after each of its requests.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield shop
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def aim_at_real_resources(case, ids: dict[str, str]) -> None:
    """Point about half of the well-formed ids in paths at the shop's real resources.

    Random UUIDs alone would only ever meet 404s; the other half still does
    (and malformed ids are left as generated).
    """
    for name, value in (case.path_parameters or {}).items():
        try:
            generated = uuid.UUID(str(value))
        except ValueError:
            continue
        if name in ids and generated.int % 2 == 0:
            case.path_parameters[name] = ids[name]


def has_an_empty_query_value(case) -> bool:
    """An empty ``?name=`` means "not given" in this API (HTML form semantics, e.g.
    catalog's ``?owner_id=``), so it is accepted although the schema types it."""
    for value in (case.query or {}).values():
        if value == "" or (isinstance(value, list) and "" in value):
            return True
    return False


@schema.parametrize()
@_HYPOTHESIS
def test_every_operation_conforms_to_the_schema(case, wsgi_in_test_transaction):
    shop = wsgi_in_test_transaction
    aim_at_real_resources(case, shop["ids"])
    excluded = [negative_data_rejection] if has_an_empty_query_value(case) else []
    case.call_and_validate(headers=shop["headers"], excluded_checks=excluded)


# --- arbitrary JSON to every write endpoint ---------------------------------------------

#: Field names the API knows, so generated objects also reach past "missing field" checks.
KNOWN_FIELDS = (
    "email",
    "name",
    "password",
    "refresh",
    "profile",
    "preferences",
    "phone",
    "country",
    "language",
    "marketing_emails",
    "sku",
    "description",
    "price",
    "delta",
    "reason",
    "items",
    "product_id",
    "quantity",
    "payment_token",
    "status",
    "total",
    "id",
    "owner_id",
    "user_id",
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "0", "-1", "1.005", "19.99", "tok_ok", str(uuid.UUID(int=0))])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_FIELDS), children, max_size=6)
    ),
    max_leaves=25,
)
json_bodies = json_values | st.dictionaries(st.sampled_from(KNOWN_FIELDS), json_values, max_size=6)

WRITE_ENDPOINTS = [
    ("post", "/api/users"),
    ("post", "/api/auth/token"),
    ("post", "/api/auth/token/refresh"),
    ("patch", "/api/users/me"),
    ("post", "/api/products"),
    ("patch", "/api/products/{product}"),
    ("delete", "/api/products/{product}"),
    ("post", "/api/inventory/{product}/adjust"),
    ("post", "/api/orders"),
    ("post", "/api/orders/{order}/cancel"),
]


@pytest.mark.parametrize(("method", "path"), WRITE_ENDPOINTS)
@_HYPOTHESIS
@given(body=json_bodies)
def test_random_json_never_gets_a_5xx(shop, method, path, body):
    client: APIClient = shop["client"]
    url = path.format(product=shop["ids"]["product_id"], order=shop["ids"]["order_id"])

    response = getattr(client, method)(url, body, format="json")

    assert response.status_code < 500, (url, body, response.content[:500])
    if response.status_code != 204:
        assert isinstance(response.json(), dict), (url, body, response.content[:500])
