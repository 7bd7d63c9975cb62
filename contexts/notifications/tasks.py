"""Celery tasks of the notifications context (thin: each calls a service).

Emails have no task per notification: each is sent at the commit of the
delivery that stored it (``services.notification_create``). The beat sweep
sends the rest.
"""

from __future__ import annotations

from celery import shared_task

from contexts.notifications import services


@shared_task(name="notifications.send_due_emails")
def send_due_emails() -> int:
    """Beat: send every email whose (re)try is due."""
    return services.send_due_emails()
