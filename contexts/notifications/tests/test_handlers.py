"""The handlers and the email step, in-process: one notification per event, the
email sent by id afterwards, retried, never rolling the notification back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from contexts.kernel.delivery import DUPLICATE, PROCESSED, deliver
from contexts.kernel.outbox import publish
from contexts.kernel.relay import envelope_of
from contexts.kernel.transactions import atomic
from contexts.notifications import services
from contexts.notifications.models import DeliveryAttempt, Notification
from contexts.notifications.tests.backends import FLAG_ENV
from contexts.orders.events import OrderCancelled, OrderConfirmed
from contexts.users.events import UserRegistered

pytestmark = pytest.mark.django_db(transaction=True)

WELCOME = "notifications.welcome_new_user"
CONFIRMED = "notifications.notify_order_confirmed"
CANCELLED = "notifications.notify_order_cancelled"


@pytest.fixture(autouse=True)
def locmem_email(settings):
    # No worker runs here: the on-commit send only queues a message; tests send by hand.
    settings.EMAIL_BACKEND = "contexts.notifications.tests.backends.FlakyEmailBackend"


def envelope(event) -> dict:
    """The message the relay would send for ``event`` (published and committed)."""
    from contexts.kernel.databases import database_for
    from contexts.kernel.models import OutboxMessage

    with atomic(event.context):
        publish(event)
    return envelope_of(
        OutboxMessage.objects.using(database_for(event.context)).get(pk=event.event_id)
    )


def registered(**overrides) -> UserRegistered:
    values = {"user_id": uuid.uuid4(), "email": "ada@example.com", "display_name": "Ada"}
    return UserRegistered(**{**values, **overrides})


def test_user_registered_makes_one_welcome_notification_however_often_delivered():
    event = registered()
    message = envelope(event)

    assert deliver(context="notifications", handler=WELCOME, event=message) == PROCESSED
    assert deliver(context="notifications", handler=WELCOME, event=message) == DUPLICATE

    [notification] = Notification.objects.all()
    assert notification.kind == Notification.Kind.WELCOME
    assert notification.user_id == event.user_id
    assert notification.source_event_id == event.event_id
    assert notification.recipient_email == "ada@example.com"
    assert "Ada" in notification.body
    assert notification.email_sent_at is None


def test_the_email_is_sent_by_id_once():
    deliver(context="notifications", handler=WELCOME, event=envelope(registered()))
    notification = Notification.objects.get()

    assert services.notification_send_email(notification_id=notification.id) is True
    assert services.notification_send_email(notification_id=notification.id) is False

    [sent] = mail.outbox
    assert sent.to == ["ada@example.com"]
    assert sent.subject == notification.subject
    notification.refresh_from_db()
    assert notification.email_sent_at is not None
    assert notification.email_next_attempt_at is None
    assert [a.succeeded for a in DeliveryAttempt.objects.all()] == [True]


def test_a_failing_email_keeps_the_notification_and_is_retried_with_backoff(tmp_path, monkeypatch):
    flag = tmp_path / "smtp-down"
    flag.touch()
    monkeypatch.setenv(FLAG_ENV, str(flag))
    deliver(context="notifications", handler=WELCOME, event=envelope(registered()))
    notification = Notification.objects.get()

    assert services.notification_send_email(notification_id=notification.id) is False

    notification.refresh_from_db()
    assert notification.email_sent_at is None
    assert notification.email_next_attempt_at > timezone.now()
    [attempt] = DeliveryAttempt.objects.all()
    assert not attempt.succeeded and "SMTP server unreachable" in attempt.error
    # Not due yet: neither a send by id nor the sweep touches it.
    assert services.notification_send_email(notification_id=notification.id) is False
    assert services.send_due_emails() == 0

    flag.unlink()
    Notification.objects.filter(pk=notification.pk).update(
        email_next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.notification_send_email(notification_id=notification.id) is True
    assert len(mail.outbox) == 1
    assert DeliveryAttempt.objects.filter(succeeded=True).count() == 1


def test_the_email_is_given_up_after_the_last_attempt(tmp_path, monkeypatch, settings):
    settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS = 2
    flag = tmp_path / "smtp-down"
    flag.touch()
    monkeypatch.setenv(FLAG_ENV, str(flag))
    deliver(context="notifications", handler=WELCOME, event=envelope(registered()))
    notification = Notification.objects.get()

    for _ in range(2):
        Notification.objects.filter(pk=notification.pk).update(
            email_next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        services.notification_send_email(notification_id=notification.id)

    notification.refresh_from_db()
    assert notification.email_attempts == 2
    assert notification.email_next_attempt_at is None  # given up; attempts show why
    assert DeliveryAttempt.objects.filter(succeeded=False).count() == 2


def test_order_notifications_ask_users_for_the_address(user):
    order_id = uuid.uuid4()
    confirmed = OrderConfirmed(
        order_id=order_id, user_id=user.id, total=Decimal("19.99"), currency="USD"
    )
    cancelled = OrderCancelled(order_id=order_id, user_id=user.id, reason="PAYMENT_DECLINED")

    deliver(context="notifications", handler=CONFIRMED, event=envelope(confirmed))
    deliver(context="notifications", handler=CANCELLED, event=envelope(cancelled))

    by_kind = {n.kind: n for n in Notification.objects.all()}
    assert set(by_kind) == {"ORDER_CONFIRMED", "ORDER_CANCELLED"}
    assert all(n.order_id == order_id and n.user_id == user.id for n in by_kind.values())
    assert "19.99 USD" in by_kind["ORDER_CONFIRMED"].body
    assert "declined" in by_kind["ORDER_CANCELLED"].body
    for notification in by_kind.values():
        assert services.notification_send_email(notification_id=notification.id)
    assert [m.to for m in mail.outbox] == [[user.email], [user.email]]


def test_an_unknown_recipient_is_not_retried():
    event = OrderConfirmed(
        order_id=uuid.uuid4(), user_id=uuid.uuid4(), total=Decimal("1.00"), currency="USD"
    )
    deliver(context="notifications", handler=CONFIRMED, event=envelope(event))
    notification = Notification.objects.get()

    assert services.notification_send_email(notification_id=notification.id) is False

    notification.refresh_from_db()
    assert notification.email_next_attempt_at is None
    assert "no user" in DeliveryAttempt.objects.get().error
