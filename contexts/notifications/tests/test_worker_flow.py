"""End to end through a real worker: registration -> WELCOME notification -> one email,
sent in the delivery that stored it, or by the sweep once a down SMTP server is back."""

from __future__ import annotations

import pytest
from django.utils import timezone

from contexts.kernel.databases import database_for
from contexts.kernel.models import InboxMessage, OutboxMessage
from contexts.kernel.relay import envelope_of, send_deliveries
from contexts.kernel.testing import wait_for
from contexts.notifications.models import DeliveryAttempt, Notification
from contexts.notifications.tests.backends import FLAG_ENV

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WELCOME = "notifications.welcome_new_user"


def test_registering_a_user_sends_one_welcome_notification_and_one_email(api_client, celery_worker):
    response = api_client.post(
        "/api/users",
        {"email": "grace@example.com", "name": "Grace", "password": "a-long-secret-42"},
        format="json",
        HTTP_X_REQUEST_ID="signup-1",
    )
    assert response.status_code == 201, response.content
    user_id = response.json()["id"]

    notification = wait_for(
        lambda: Notification.objects.filter(user_id=user_id, email_sent_at__isnull=False).first()
    )
    assert notification.kind == Notification.Kind.WELCOME
    [email] = celery_worker.sent_emails()
    assert email["To"] == "grace@example.com"
    assert email["Subject"] == notification.subject

    # The same event re-enqueued by hand: still one notification, one email.
    row = OutboxMessage.objects.using(database_for("users")).get(event_name="users.UserRegistered")
    assert row.correlation_id == "signup-1"
    send_deliveries([(("notifications", WELCOME), envelope_of(row))])
    inbox = InboxMessage.objects.using(database_for("notifications"))
    wait_for(lambda: inbox.get(event_id=row.event_id, handler=WELCOME).attempts == 2)
    assert Notification.objects.filter(user_id=user_id).count() == 1
    assert len(celery_worker.sent_emails()) == 1


def test_an_email_that_failed_while_smtp_was_down_is_sent_by_the_sweep(
    api_client, start_celery_worker, tmp_path
):
    down = tmp_path / "smtp-down"
    down.touch()
    worker = start_celery_worker(
        beat=True,
        env={
            "EMAIL_BACKEND": "contexts.notifications.tests.backends.FlakyFileBackend",
            FLAG_ENV: str(down),
            "NOTIFICATION_EMAIL_SWEEP_SECONDS": "1",
        },
    )
    response = api_client.post(
        "/api/users",
        {"email": "linus@example.com", "name": "Linus", "password": "a-long-secret-42"},
        format="json",
    )
    assert response.status_code == 201, response.content

    failure = wait_for(lambda: DeliveryAttempt.objects.filter(succeeded=False).first())
    assert "SMTP server unreachable" in failure.error
    notification = Notification.objects.get()
    assert notification.email_sent_at is None
    assert notification.email_next_attempt_at is not None  # kept for a retry, not lost

    down.unlink()
    # The retry's backoff has passed: the sweep (every second here) sends it.
    Notification.objects.update(email_next_attempt_at=timezone.now())
    wait_for(lambda: Notification.objects.filter(email_sent_at__isnull=False).exists())
    [email] = worker.sent_emails()
    assert email["To"] == "linus@example.com"
