"""The kernel's tables. They exist in every context's database: each context
writes its outbox rows, and records its inbox rows, through its own alias.

- ``OutboxMessage``: an event published by a context, written in the same
  transaction as the change that caused it; the relay sends it on. It keeps
  the delivery state: the handlers that have not confirmed yet, and when the
  sweep re-drives them (``contexts.kernel.relay``).
- ``InboxMessage``: one row per (event, handler) in the *consuming* context's
  database. It counts deliveries (committed before the handler runs, so a
  worker that dies mid-handler still counts), and it is marked processed in
  the handler's own transaction, so a redelivered event has no second effect.
  It keeps the message, so a failed delivery is retried by the sweep at its
  ``next_attempt_at`` instead of by a long broker countdown.
- ``DeadLetter``: a delivery that used up its attempts; replayed by the admin
  action or ``manage.py replay_dead_letters``.

Primary keys are UUIDs so that a row is unambiguous across databases (the
admin looks rows up in every alias).
"""

from __future__ import annotations

import uuid

from django.db import models


class OutboxMessage(models.Model):
    """A published event waiting for the relay; written in the publisher's transaction."""

    event_id = models.UUIDField(primary_key=True)
    context = models.CharField(max_length=32)
    event_name = models.CharField(max_length=100)
    event_version = models.PositiveSmallIntegerField()
    payload = models.JSONField()
    correlation_id = models.CharField(max_length=128)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    #: Handler id -> consuming context, for each delivery not confirmed yet.
    unconfirmed = models.JSONField(default=dict, blank=True)
    #: When the sweep sends the unconfirmed deliveries again (null: nothing to re-drive).
    redrive_at = models.DateTimeField(null=True, blank=True)
    #: Re-drives so far (each doubles the wait before the next).
    redrives = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "outbox message"
        indexes = [
            # The relay's query: unpublished rows, oldest first.
            models.Index(
                fields=["created_at"],
                name="outbox_unpublished_idx",
                condition=models.Q(published_at__isnull=True),
            ),
            # The re-drive's query: published rows still unconfirmed, due first.
            models.Index(
                fields=["redrive_at"],
                name="outbox_redrive_idx",
                condition=models.Q(redrive_at__isnull=False),
            ),
            # The retention job's query: rows published before the cutoff.
            models.Index(
                fields=["published_at"],
                name="outbox_published_idx",
                condition=models.Q(published_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} v{self.event_version} {self.event_id}"


class InboxMessage(models.Model):
    """The delivery of one event to one handler, in the consumer's database."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        PROCESSED = "processed", "processed"
        DEAD = "dead", "dead-lettered"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.UUIDField()
    #: The handler's stable id (``@subscribe(..., id=...)``).
    handler = models.CharField(max_length=255)
    #: The consuming context (whose queue and database the handler uses).
    context = models.CharField(max_length=32)
    event_name = models.CharField(max_length=100)
    event_version = models.PositiveSmallIntegerField()
    #: The message as the relay sent it, so that the sweep can send it again.
    envelope = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    #: Deliveries so far, counted before the handler runs.
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    received_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField()
    #: When the sweep sends it again if it has not been processed by then.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "inbox message"
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "handler"], name="inbox_event_handler_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "processed", "dead"]),
                name="inbox_status_valid",
            ),
        ]
        indexes = [
            # The sweep's query: pending deliveries that are due.
            models.Index(
                fields=["next_attempt_at"],
                name="inbox_due_idx",
                condition=models.Q(status="pending"),
            ),
            # The retention job's query.
            models.Index(
                fields=["processed_at"],
                name="inbox_processed_idx",
                condition=models.Q(status="processed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} -> {self.handler} ({self.status})"


class DeadLetter(models.Model):
    """A delivery that failed every attempt; visible in the admin, replayable."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.UUIDField()
    handler = models.CharField(max_length=255)
    context = models.CharField(max_length=32)
    event_name = models.CharField(max_length=100)
    event_version = models.PositiveSmallIntegerField()
    envelope = models.JSONField()
    error = models.TextField()
    attempts = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "dead letter"
        indexes = [
            models.Index(
                fields=["created_at"],
                name="deadletter_open_idx",
                condition=models.Q(replayed_at__isnull=True),
            ),
            models.Index(
                fields=["replayed_at"],
                name="deadletter_replayed_idx",
                condition=models.Q(replayed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} -> {self.handler} ({self.attempts} attempts)"
