"""Tables owned by the notifications context (private to it).

A notification is stored first (in the event handler's transaction, once per
triggering event), and its email is sent once that commits, with retries
(``services.notification_create``, ``services.send_due_emails``): an email
failure never rolls back the notification, and every try is a
``DeliveryAttempt`` row. The email's state is on the notification: sent
(``email_sent_at``), pending (``email_next_attempt_at``: when it is due or,
while a send runs, when that send's claim ends), or given up (neither set;
the attempts say why).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Notification(models.Model):
    class Kind(models.TextChoices):
        WELCOME = "WELCOME", "welcome"
        ORDER_CONFIRMED = "ORDER_CONFIRMED", "order confirmed"
        ORDER_CANCELLED = "ORDER_CANCELLED", "order cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    #: The recipient (a users-context id; no foreign key across contexts).
    user_id = models.UUIDField()
    kind = models.CharField(max_length=32, choices=Kind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    order_id = models.UUIDField(null=True, blank=True)
    #: The event that caused it: one notification per event, however often delivered.
    source_event_id = models.UUIDField(unique=True)
    #: The address when the event carried it; otherwise asked of users when sending.
    recipient_email = models.EmailField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    #: When the sweep (re)sends the email; null once sent or given up.
    email_next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["WELCOME", "ORDER_CONFIRMED", "ORDER_CANCELLED"]),
                name="notification_kind_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["user_id", "-created_at"], name="notification_user_idx"),
            models.Index(
                fields=["email_next_attempt_at"],
                name="notification_email_due_idx",
                condition=models.Q(email_sent_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


class DeliveryAttempt(models.Model):
    """One try at sending a notification through a channel (email)."""

    class Channel(models.TextChoices):
        EMAIL = "email", "email"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    attempted_at = models.DateTimeField(default=timezone.now)
    succeeded = models.BooleanField()
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"{self.channel} {'ok' if self.succeeded else 'failed'} at {self.attempted_at}"
