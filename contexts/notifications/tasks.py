"""Celery tasks of the notifications context (thin: load by id, call a service)."""

from __future__ import annotations

from uuid import UUID

from celery import shared_task

from contexts.notifications import services


@shared_task(name=services.SEND_EMAIL_TASK)
def send_notification_email(notification_id: str) -> bool:
    """Send one notification's email (a no-op if it was sent or is being sent)."""
    return services.notification_send_email(notification_id=UUID(notification_id))


@shared_task(name="notifications.send_due_emails")
def send_due_emails() -> int:
    """Beat: enqueue every email whose (re)try is due."""
    return services.send_due_emails()
