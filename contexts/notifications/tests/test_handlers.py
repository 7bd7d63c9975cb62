"""The handlers and the email step, in-process: one notification per event, its
email sent at the commit of the delivery that stored it, retried by the sweep,
never rolling the notification back."""

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
from contexts.notifications import email_pause, services
from contexts.notifications.models import DeliveryAttempt, Notification
from contexts.notifications.tests.backends import FLAG_ENV
from contexts.orders.events import OrderCancelled, OrderConfirmed
from contexts.users.events import UserRegistered

pytestmark = pytest.mark.django_db(transaction=True)

WELCOME = "notifications.welcome_new_user"
CONFIRMED = "notifications.notify_order_confirmed"
CANCELLED = "notifications.notify_order_cancelled"


@pytest.fixture(autouse=True)
def flaky_email(settings):
    # locmem (mail.outbox), failing while the flag file exists; no pause left by another test.
    settings.EMAIL_BACKEND = "contexts.notifications.tests.backends.FlakyEmailBackend"
    email_pause.succeeded()
    yield
    email_pause.succeeded()


@pytest.fixture
def smtp_down(tmp_path, monkeypatch):
    """The email backend fails until the returned flag file is removed."""
    flag = tmp_path / "smtp-down"
    flag.touch()
    monkeypatch.setenv(FLAG_ENV, str(flag))
    return flag


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


def make_due(notification: Notification) -> None:
    """Let the retry's backoff pass."""
    Notification.objects.filter(pk=notification.pk).update(
        email_next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


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
    assert notification.email_sent_at is not None


def test_the_delivery_sends_the_email_once_it_commits():
    message = envelope(registered())
    deliver(context="notifications", handler=WELCOME, event=message)
    notification = Notification.objects.get()

    [sent] = mail.outbox
    assert sent.to == ["ada@example.com"]
    assert sent.subject == notification.subject
    assert notification.email_sent_at is not None
    assert notification.email_next_attempt_at is None
    assert notification.email_attempts == 1
    assert [a.succeeded for a in DeliveryAttempt.objects.all()] == [True]

    # Neither a redelivery nor the sweep sends it again.
    assert deliver(context="notifications", handler=WELCOME, event=message) == DUPLICATE
    assert services.send_due_emails() == 0
    assert len(mail.outbox) == 1


def test_the_emails_of_one_transaction_go_out_after_it_commits_in_one_batch():
    with atomic("notifications"):
        for n in range(3):
            services.notification_create(
                user_id=uuid.uuid4(), kind="WELCOME", subject=f"Welcome {n}", body="Hello",
                source_event_id=uuid.uuid4(), recipient_email=f"u{n}@example.com",
            )  # fmt: skip
        assert mail.outbox == []  # nothing before the commit
    assert sorted(m.subject for m in mail.outbox) == ["Welcome 0", "Welcome 1", "Welcome 2"]
    assert not Notification.objects.filter(email_sent_at__isnull=True).exists()


def test_an_email_whose_savepoint_rolled_back_is_never_sent():
    with atomic("notifications"):
        services.notification_create(
            user_id=uuid.uuid4(), kind="WELCOME", subject="Kept", body="Hello",
            source_event_id=uuid.uuid4(), recipient_email="kept@example.com",
        )  # fmt: skip
        try:
            with atomic("notifications"):  # one handler's savepoint in a batch
                services.notification_create(
                    user_id=uuid.uuid4(), kind="WELCOME", subject="Rolled back", body="Hello",
                    source_event_id=uuid.uuid4(), recipient_email="gone@example.com",
                )  # fmt: skip
                raise RuntimeError("the handler failed")
        except RuntimeError:
            pass
    assert [m.subject for m in mail.outbox] == ["Kept"]
    try:
        with atomic("notifications"):
            services.notification_create(
                user_id=uuid.uuid4(), kind="WELCOME", subject="Whole transaction", body="Hello",
                source_event_id=uuid.uuid4(), recipient_email="none@example.com",
            )  # fmt: skip
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    # The next commit's send skips the notification that was never stored.
    services.notification_create(
        user_id=uuid.uuid4(), kind="WELCOME", subject="Next", body="Hello",
        source_event_id=uuid.uuid4(), recipient_email="next@example.com",
    )  # fmt: skip
    assert [m.subject for m in mail.outbox] == ["Kept", "Next"]


def test_a_failing_email_keeps_the_notification_and_is_retried_with_backoff(smtp_down):
    deliver(context="notifications", handler=WELCOME, event=envelope(registered()))
    notification = Notification.objects.get()

    assert notification.email_sent_at is None
    assert notification.email_next_attempt_at > timezone.now()
    [attempt] = DeliveryAttempt.objects.all()
    assert not attempt.succeeded and "SMTP server unreachable" in attempt.error
    # Not due yet: the sweep does not touch it.
    assert services.send_due_emails() == 0

    smtp_down.unlink()
    make_due(notification)
    assert services.send_due_emails() == 1
    assert len(mail.outbox) == 1
    assert DeliveryAttempt.objects.filter(succeeded=True).count() == 1
    notification.refresh_from_db()
    assert notification.email_attempts == 2


def test_after_a_failure_sends_at_commit_pause_and_the_sweep_sends_them(smtp_down):
    deliver(context="notifications", handler=WELCOME, event=envelope(registered()))
    assert DeliveryAttempt.objects.filter(succeeded=False).count() == 1
    assert email_pause.paused()

    # Paused: the next delivery stores its notification and tries no send.
    deliver(
        context="notifications",
        handler=WELCOME,
        event=envelope(registered(email="bob@example.com")),
    )
    assert Notification.objects.count() == 2
    assert DeliveryAttempt.objects.count() == 1
    second = Notification.objects.get(recipient_email="bob@example.com")
    assert second.email_attempts == 0 and second.email_next_attempt_at is not None

    smtp_down.unlink()
    for notification in Notification.objects.all():
        make_due(notification)
    assert services.send_due_emails() == 2  # the sweep is not paused, and ends the pause
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "bob@example.com"]
    assert not email_pause.paused()


def test_a_batch_stops_at_the_first_server_failure_and_leaves_the_rest_due(smtp_down):
    with atomic("notifications"):
        for n in range(3):
            services.notification_create(
                user_id=uuid.uuid4(), kind="WELCOME", subject="Welcome", body="Hello",
                source_event_id=uuid.uuid4(), recipient_email=f"u{n}@example.com",
            )  # fmt: skip

    assert DeliveryAttempt.objects.count() == 1  # one try, not three
    left = Notification.objects.filter(email_attempts=0)
    assert left.count() == 2
    assert all(n.email_next_attempt_at <= timezone.now() for n in left)  # due for the sweep


def test_the_email_is_given_up_after_the_last_attempt(smtp_down, settings):
    settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS = 2
    deliver(context="notifications", handler=WELCOME, event=envelope(registered()))
    notification = Notification.objects.get()
    make_due(notification)
    services.send_due_emails()

    notification.refresh_from_db()
    assert notification.email_attempts == 2
    assert notification.email_next_attempt_at is None  # given up; attempts show why
    assert DeliveryAttempt.objects.filter(succeeded=False).count() == 2
    assert services.send_due_emails() == 0  # never due again


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
    assert all(n.email_sent_at is not None for n in by_kind.values())
    assert [m.to for m in mail.outbox] == [[user.email], [user.email]]


def test_an_unknown_recipient_is_not_retried():
    event = OrderConfirmed(
        order_id=uuid.uuid4(), user_id=uuid.uuid4(), total=Decimal("1.00"), currency="USD"
    )
    deliver(context="notifications", handler=CONFIRMED, event=envelope(event))
    notification = Notification.objects.get()

    assert notification.email_sent_at is None
    assert notification.email_next_attempt_at is None
    assert "no user" in DeliveryAttempt.objects.get().error
    assert not email_pause.paused()  # not the server's fault
