"""Example bodies of the orders API for the OpenAPI schema (Swagger UI shows them)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

_ORDER_ID = "0b7f6a1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b"
_USER_ID = "5d2c8f0a-6b1e-4c3d-9e8f-7a6b5c4d3e2f"
_PRODUCT_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_PLACED_AT = "2026-01-31T12:00:00.123456Z"
_PAID_AT = "2026-01-31T12:00:01.456789Z"

_ITEMS = [
    {
        "product_id": _PRODUCT_ID,
        "sku": "MUG-1",
        "name": "Mug",
        "quantity": 2,
        "unit_price": "19.99",
        "line_total": "39.98",
    }
]


def _order(status: str, cancel_reason: str | None, updated_at: str) -> dict:
    return {
        "id": _ORDER_ID,
        "user_id": _USER_ID,
        "status": status,
        "cancel_reason": cancel_reason,
        "items": _ITEMS,
        "total": "39.98",
        "currency": "USD",
        "created_at": _PLACED_AT,
        "updated_at": updated_at,
    }


PENDING = _order("PENDING", None, _PLACED_AT)
CONFIRMED = _order("CONFIRMED", None, _PAID_AT)
CANCELLED = _order("CANCELLED", "CUSTOMER_CANCELLED", "2026-02-01T09:30:00Z")

PLACE_REQUEST = OpenApiExample(
    "Two mugs",
    value={"items": [{"product_id": _PRODUCT_ID, "quantity": 2}], "payment_token": "tok_ok"},
    request_only=True,
)
PLACED = OpenApiExample(
    "Placed (not final yet)", value=PENDING, response_only=True, status_codes=["201"]
)
ORDER_STATES = [
    OpenApiExample("Confirmed", value=CONFIRMED, response_only=True, status_codes=["200"]),
    OpenApiExample("Pending", value=PENDING, response_only=True, status_codes=["200"]),
    OpenApiExample(
        "Declined",
        value={**CANCELLED, "cancel_reason": "PAYMENT_DECLINED", "updated_at": _PAID_AT},
        response_only=True,
        status_codes=["200"],
    ),
]
LISTED = OpenApiExample(
    "One confirmed order", value=CONFIRMED, response_only=True, status_codes=["200"]
)
CANCELLED_BY_CUSTOMER = OpenApiExample(
    "Cancelled", value=CANCELLED, response_only=True, status_codes=["200"]
)
CANCEL_CONFLICT = OpenApiExample(
    "Still pending",
    value={"detail": "The order is still being processed; it cannot be cancelled yet."},
    response_only=True,
    status_codes=["409"],
)
KEY_IN_FLIGHT = OpenApiExample(
    "Key in flight",
    value={"detail": "A request with this Idempotency-Key is still being processed; retry later."},
    response_only=True,
    status_codes=["409"],
)
KEY_REUSED = OpenApiExample(
    "Key reused",
    value={"detail": "This Idempotency-Key was already used with a different request."},
    response_only=True,
    status_codes=["422"],
)
UNKNOWN_PRODUCT = OpenApiExample(
    "Unknown product",
    value={"items": [f"Unknown or deleted product(s): {_PRODUCT_ID}"]},
    response_only=True,
    status_codes=["400"],
)
BAD_QUANTITY = OpenApiExample(
    "Quantity out of range",
    value={"items": [{"quantity": ["Ensure this value is less than or equal to 1000."]}]},
    response_only=True,
    status_codes=["400"],
)
HISTORY = OpenApiExample(
    "Confirmed",
    value={
        "results": [
            {
                "sequence": 1,
                "type": "ORDER_PLACED",
                "occurred_at": _PLACED_AT,
                "data": {
                    "user_id": _USER_ID,
                    "items": _ITEMS,
                    "total": "39.98",
                    "currency": "USD",
                },
            },
            {
                "sequence": 2,
                "type": "STOCK_RESERVED",
                "occurred_at": "2026-01-31T12:00:00.801234Z",
                "data": {"lines": [{"product_id": _PRODUCT_ID, "quantity": 2}]},
            },
            {
                "sequence": 3,
                "type": "PAYMENT_CAPTURED",
                "occurred_at": _PAID_AT,
                "data": {
                    "payment_id": "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7",
                    "amount": "39.98",
                    "currency": "USD",
                },
            },
            {"sequence": 4, "type": "ORDER_CONFIRMED", "occurred_at": _PAID_AT, "data": {}},
        ]
    },
    response_only=True,
    status_codes=["200"],
)
