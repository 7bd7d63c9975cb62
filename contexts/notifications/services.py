"""Writes of the notifications context.

Two steps, Saleor style: ``notification_create`` stores the notification in
the caller's transaction (an event handler's, together with its inbox row) and
asks for the email once that commits; ``notification_send_email`` sends it by
id, outside any transaction, and records the attempt. The send task runs on
the ``email`` queue, in the email worker's own pool (``EMAIL_TIMEOUT`` bounds
each SMTP wait), so a slow SMTP server never delays event deliveries or
sweeps. A failed send is retried with backoff by the
``notifications.send_due_emails`` sweep; the notification itself never
depends on the email.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from uuid import UUID

from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.utils import timezone

from contexts.kernel.transactions import atomic, on_commit
from contexts.notifications.models import DeliveryAttempt, Notification
from contexts.users import public as users

logger = logging.getLogger(__name__)
#: The Celery task that sends one notification's email (``tasks.send_notification_email``).
SEND_EMAIL_TASK = "notifications.send_notification_email"

CONTEXT = "notifications"
#: While one worker is sending, no other may (a crashed sender's claim expires).
SEND_LEASE = timedelta(minutes=5)
#: A new notification's email is sent on commit; the sweep takes over after this.
FIRST_SWEEP_DELAY = timedelta(seconds=60)


def max_email_attempts() -> int:
    return int(settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS)


def email_retry_delay(attempts: int) -> timedelta:
    """Backoff after the ``attempts``-th failed send: 10 s doubling, at most an hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


def notification_create(
    *,
    user_id: UUID,
    kind: str,
    subject: str,
    body: str,
    source_event_id: UUID,
    order_id: UUID | None = None,
    recipient_email: str = "",
) -> Notification:
    """Store a notification for ``source_event_id``; its email is sent once this commits."""
    now = timezone.now()
    with atomic(CONTEXT):
        notification = Notification.objects.create(
            user_id=user_id,
            kind=kind,
            subject=subject,
            body=body,
            order_id=order_id,
            source_event_id=source_event_id,
            recipient_email=recipient_email,
            created_at=now,
            email_next_attempt_at=now + FIRST_SWEEP_DELAY,
        )
        on_commit(CONTEXT, partial(_enqueue_email, notification.id))
    return notification


def _send_email_task(notification_id: UUID) -> None:
    # Sent by name: the task module calls these services, so importing it back
    # here would make an import circle inside the context.
    current_app.send_task(SEND_EMAIL_TASK, args=[str(notification_id)])


def _enqueue_email(notification_id: UUID) -> None:
    try:
        _send_email_task(notification_id)
    except Exception:
        logger.warning(
            "could not enqueue the email; the sweep will send it",
            extra={"notification_id": str(notification_id)},
            exc_info=True,
        )


def notification_send_email(*, notification_id: UUID) -> bool:
    """Send the notification's email unless it was sent; True if it is sent now.

    Claims the send with a conditional update (so two workers never send the
    same email at once), sends outside any transaction, then records the
    attempt: sent, or retried later with backoff, or given up after
    ``NOTIFICATION_EMAIL_MAX_ATTEMPTS``.
    """
    now = timezone.now()
    with atomic(CONTEXT):
        claimed = (
            Notification.objects.filter(
                pk=notification_id,
                email_sent_at__isnull=True,
                email_next_attempt_at__isnull=False,
            )
            .filter(Q(email_attempts=0) | Q(email_next_attempt_at__lte=now))
            .update(email_attempts=F("email_attempts") + 1, email_next_attempt_at=now + SEND_LEASE)
        )
    if not claimed:
        return False
    notification = Notification.objects.get(pk=notification_id)
    try:
        recipient = notification.recipient_email or _email_of(notification.user_id)
        send_mail(
            notification.subject,
            notification.body,
            settings.DEFAULT_FROM_EMAIL,
            [recipient],
        )
    except Exception as exc:
        _record_failure(notification, exc)
        return False
    with atomic(CONTEXT):
        sent_at = timezone.now()
        Notification.objects.filter(pk=notification.pk).update(
            email_sent_at=sent_at, email_next_attempt_at=None
        )
        DeliveryAttempt.objects.create(
            notification=notification, attempted_at=sent_at, succeeded=True
        )
    logger.info("notification email sent", extra={"notification_id": str(notification.pk)})
    return True


class UnknownRecipient(LookupError):
    """The users context knows no account for the notification's user."""


def _email_of(user_id: UUID) -> str:
    user = users.get_user(user_id)
    if user is None:
        raise UnknownRecipient(f"no user {user_id}")
    return user.email


def _record_failure(notification: Notification, exc: Exception) -> None:
    attempts = notification.email_attempts
    give_up = isinstance(exc, UnknownRecipient) or attempts >= max_email_attempts()
    next_attempt = None if give_up else timezone.now() + email_retry_delay(attempts)
    with atomic(CONTEXT):
        Notification.objects.filter(pk=notification.pk).update(email_next_attempt_at=next_attempt)
        DeliveryAttempt.objects.create(
            notification=notification, succeeded=False, error=f"{type(exc).__name__}: {exc}"
        )
    logger.warning(
        "notification email failed" + ("; giving up" if give_up else "; will retry"),
        extra={"notification_id": str(notification.pk), "attempts": attempts},
        exc_info=exc,
    )


def send_due_emails(*, limit: int = 100) -> int:
    """Enqueue the emails whose (re)try is due: failed sends after their backoff, and
    new ones whose on-commit send never ran. Returns how many were enqueued."""
    due = list(
        Notification.objects.filter(
            email_sent_at__isnull=True, email_next_attempt_at__lte=timezone.now()
        )
        .order_by("email_next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in due:
        _send_email_task(notification_id)
    return len(due)
