"""Writes of the notifications context.

A notification and its email go out in one delivery, with no broker message
of their own. ``notification_create`` stores the notification in the
caller's transaction (an event handler's, together with its inbox row) and
adds it to this transaction's emails; once the transaction commits (one
handler's, or a batch of handlers' each in a savepoint of it), every email
it stored is sent at once, in the same process, over one SMTP connection:
claimed by one conditional update (so no other sender takes them), sent,
then recorded in one transaction (sent, or retried later with backoff, or
given up after ``NOTIFICATION_EMAIL_MAX_ATTEMPTS``; each try is a
``DeliveryAttempt`` row). The notification never depends on its email: it
is committed before any send starts, and a send that fails only schedules a
retry.

``EMAIL_TIMEOUT`` bounds each SMTP wait, and a batch starts no new send once
that much time has passed. After a failed send the process pauses sends at
commit (``email_pause``), so a hanging SMTP server cannot hold the worker's
pool. Whatever is not sent at commit (a pause, a crash, an error, a send
that failed) stays due, and the beat sweep ``notifications.send_due_emails``
sends it the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F
from django.utils import timezone

from contexts.kernel.transactions import atomic, on_commit
from contexts.notifications import email_pause
from contexts.notifications.models import DeliveryAttempt, Notification
from contexts.users import public as users

logger = logging.getLogger(__name__)

CONTEXT = "notifications"
#: While one process is sending, no other may (a crashed sender's claim expires).
SEND_LEASE = timedelta(minutes=5)
#: A new notification's email is sent at commit; the sweep takes over after this.
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
    # No savepoint of its own: inside a handler, the delivery's transaction (or
    # the handler's savepoint in a batch) already scopes it.
    with atomic(CONTEXT, savepoint=False):
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
        _stored.notifications.append(notification)
        # One callback per notification, each sending everything stored so far:
        # a savepoint that rolls back drops its own callback, never the others'.
        on_commit(CONTEXT, send_committed_emails)
    return notification


class _Stored(threading.local):
    """The notifications stored by this thread whose email is not sent yet."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []


_stored = _Stored()


def send_committed_emails() -> None:
    """Send the emails of the notifications this thread stored (run at commit).

    The first callback of a transaction sends them all, the others find
    nothing left. A notification whose transaction rolled back is not in the
    database, so the claim skips it. Never raises (it runs after the commit
    of a delivery): what it could not send, the sweep sends.
    """
    batch, _stored.notifications = _stored.notifications, []
    if not batch:
        return
    if email_pause.paused():
        logger.info("emails left to the sweep: sends are paused", extra={"emails": len(batch)})
        return
    try:
        _send(_claim_new(batch))
    except Exception:
        logger.warning("emails not sent at commit; the sweep will send them", exc_info=True)


def _claim_new(batch: list[Notification]) -> list[Notification]:
    """Claim the emails of ``batch`` that nobody tried yet, in one statement."""
    lease = timezone.now() + SEND_LEASE
    ids = [n.pk for n in batch]
    claimed = Notification.objects.filter(
        pk__in=ids,
        email_sent_at__isnull=True,
        email_attempts=0,
        email_next_attempt_at__isnull=False,
    ).update(email_attempts=1, email_next_attempt_at=lease)
    if claimed < len(ids):
        # Some were rolled back or taken by the sweep: ours carry this exact lease.
        mine = set(
            Notification.objects.filter(pk__in=ids, email_next_attempt_at=lease).values_list(
                "pk", flat=True
            )
        )
        batch = [n for n in batch if n.pk in mine]
    for notification in batch:
        notification.email_attempts = 1
        notification.email_next_attempt_at = lease
    return batch


class UnknownRecipient(LookupError):
    """The users context knows no account for the notification's user."""


def _email_of(user_id: UUID) -> str:
    user = users.get_user(user_id)
    if user is None:
        raise UnknownRecipient(f"no user {user_id}")
    return user.email


@dataclass
class _Outcome:
    sent: list[Notification] = field(default_factory=list)
    failed: list[tuple[Notification, Exception]] = field(default_factory=list)
    #: Not tried (the server failed earlier in the batch, or the time was up): due again now.
    left: list[Notification] = field(default_factory=list)


def _send(notifications: Sequence[Notification]) -> int:
    """Send claimed emails over one connection, record the outcome; the number sent."""
    if not notifications:
        return 0
    outcome = _Outcome()
    connection = get_connection()
    opened = server_failed = False
    deadline = time.monotonic() + float(settings.EMAIL_TIMEOUT)
    try:
        for notification in notifications:
            if server_failed or (outcome.sent and time.monotonic() > deadline):
                outcome.left.append(notification)
                continue
            try:
                recipient = notification.recipient_email or _email_of(notification.user_id)
            except Exception as exc:
                outcome.failed.append((notification, exc))
                continue
            message = EmailMessage(
                notification.subject,
                notification.body,
                settings.DEFAULT_FROM_EMAIL,
                [recipient],
                connection=connection,
            )
            try:
                if not opened:
                    connection.open()
                    opened = True
                message.send()
            except Exception as exc:
                outcome.failed.append((notification, exc))
                server_failed = True
            else:
                outcome.sent.append(notification)
    finally:
        if opened:
            try:
                connection.close()
            except Exception:
                logger.debug("closing the SMTP connection failed", exc_info=True)
    _record(outcome)
    if server_failed:
        email_pause.failed()
    elif outcome.sent:
        email_pause.succeeded()
    return len(outcome.sent)


def _record(outcome: _Outcome) -> None:
    now = timezone.now()
    attempts = [
        DeliveryAttempt(notification=n, attempted_at=now, succeeded=True) for n in outcome.sent
    ]
    with atomic(CONTEXT):
        if outcome.sent:
            Notification.objects.filter(pk__in=[n.pk for n in outcome.sent]).update(
                email_sent_at=now, email_next_attempt_at=None
            )
        for notification, exc in outcome.failed:
            give_up = (
                isinstance(exc, UnknownRecipient)
                or notification.email_attempts >= max_email_attempts()
            )
            retry_at = None if give_up else now + email_retry_delay(notification.email_attempts)
            Notification.objects.filter(pk=notification.pk).update(email_next_attempt_at=retry_at)
            attempts.append(
                DeliveryAttempt(
                    notification=notification,
                    attempted_at=now,
                    succeeded=False,
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
            logger.warning(
                "notification email failed" + ("; giving up" if give_up else "; will retry"),
                extra={
                    "notification_id": str(notification.pk),
                    "attempts": notification.email_attempts,
                },
                exc_info=exc,
            )
        if outcome.left:
            Notification.objects.filter(pk__in=[n.pk for n in outcome.left]).update(
                email_attempts=F("email_attempts") - 1, email_next_attempt_at=now
            )
        DeliveryAttempt.objects.bulk_create(attempts)
    if outcome.sent:
        logger.info("notification emails sent", extra={"emails": len(outcome.sent)})


def send_due_emails(*, limit: int = 100) -> int:
    """Send the emails whose (re)try is due: failed sends after their backoff, and
    new ones not sent at commit. Returns how many were sent (the beat sweep).

    Claimed with ``FOR UPDATE SKIP LOCKED`` and a lease, so sweeps running at
    once never send the same email; not paused by ``email_pause`` (a sweep
    that gets through ends the pause).
    """
    now = timezone.now()
    with atomic(CONTEXT):
        due = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(email_sent_at__isnull=True, email_next_attempt_at__lte=now)
            .order_by("email_next_attempt_at")[:limit]
        )
        if due:
            Notification.objects.filter(pk__in=[n.pk for n in due]).update(
                email_attempts=F("email_attempts") + 1, email_next_attempt_at=now + SEND_LEASE
            )
    for notification in due:
        notification.email_attempts += 1
    return _send(due)
