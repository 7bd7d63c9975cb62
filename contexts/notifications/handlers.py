"""The events notifications consumes. Each handler runs in this context's
transaction together with its inbox row, so one event makes one notification."""

from __future__ import annotations

from contexts.kernel.bus import subscribe
from contexts.notifications import services
from contexts.notifications.models import Notification
from contexts.orders.events import OrderCancelled, OrderConfirmed
from contexts.users.events import UserRegistered

CONTEXT = "notifications"


@subscribe(UserRegistered, context=CONTEXT, id="notifications.welcome_new_user")
def welcome_new_user(event: UserRegistered) -> None:
    services.notification_create(
        user_id=event.user_id,
        kind=Notification.Kind.WELCOME,
        subject="Welcome to the shop",
        body=(
            f"Hello {event.display_name},\n\nyour account ({event.email}) is ready. Happy shopping!"
        ),
        source_event_id=event.event_id,
        recipient_email=event.email,
    )


@subscribe(OrderConfirmed, context=CONTEXT, id="notifications.notify_order_confirmed")
def notify_order_confirmed(event: OrderConfirmed) -> None:
    services.notification_create(
        user_id=event.user_id,
        kind=Notification.Kind.ORDER_CONFIRMED,
        subject=f"Your order {event.order_id} is confirmed",
        body=(
            f"Thank you for your order {event.order_id}.\n\n"
            f"Payment of {event.total} {event.currency} was received and your items are reserved."
        ),
        source_event_id=event.event_id,
        order_id=event.order_id,
    )


_CANCEL_REASONS = {
    "OUT_OF_STOCK": "some items are out of stock",
    "PAYMENT_DECLINED": "the payment was declined",
    "PAYMENT_FAILED": "the payment could not be processed",
    "PRODUCT_UNAVAILABLE": "a product is no longer available",
    "CUSTOMER_CANCELLED": "you cancelled it",
}

#: What the customer is told about their money, from ``OrderCancelled.payment``.
_PAYMENT_OUTCOMES = {
    "REFUNDED": "The payment taken for it has been refunded.",
    "NOT_TAKEN": "No payment was taken for it.",
    "REFUND_PENDING": "Any payment taken for it will be refunded.",
}


@subscribe(OrderCancelled, context=CONTEXT, id="notifications.notify_order_cancelled")
def notify_order_cancelled(event: OrderCancelled) -> None:
    reason = _CANCEL_REASONS.get(event.reason, event.reason.replace("_", " ").lower())
    payment = _PAYMENT_OUTCOMES.get(event.payment, _PAYMENT_OUTCOMES["REFUND_PENDING"])
    services.notification_create(
        user_id=event.user_id,
        kind=Notification.Kind.ORDER_CANCELLED,
        subject=f"Your order {event.order_id} was cancelled",
        body=(f"Your order {event.order_id} was cancelled because {reason}.\n\n{payment}"),
        source_event_id=event.event_id,
        order_id=event.order_id,
    )
