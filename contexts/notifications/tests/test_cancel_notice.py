"""The cancel notification tells the customer what became of their money."""

from __future__ import annotations

import uuid

import pytest

from contexts.kernel.transactions import atomic
from contexts.notifications.handlers import notify_order_cancelled
from contexts.notifications.models import Notification
from contexts.orders.events import OrderCancelled

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("payment", "says", "never_says"),
    [
        ("REFUNDED", "has been refunded", "will be refunded"),
        ("NOT_TAKEN", "No payment was taken", "refunded"),
        ("REFUND_PENDING", "will be refunded", "has been refunded"),
        ("", "will be refunded", "has been refunded"),  # an event from before the field
    ],
)
def test_the_cancel_notice_follows_the_payment_outcome(user, payment, says, never_says):
    event = OrderCancelled(
        order_id=uuid.uuid4(), user_id=user.id, reason="PAYMENT_FAILED", payment=payment
    )

    with atomic("notifications"):
        notify_order_cancelled(event)

    body = Notification.objects.get(order_id=event.order_id).body
    assert says in body
    assert never_says not in body


def test_an_event_stored_without_the_payment_field_still_reads():
    event = OrderCancelled(order_id=uuid.uuid4(), user_id=uuid.uuid4(), reason="OUT_OF_STOCK")
    payload = event.payload()
    del payload["payment"]

    again = OrderCancelled.from_payload(
        payload,
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        correlation_id=event.correlation_id,
    )

    assert again.payment == ""
    assert again.reason == "OUT_OF_STOCK"
