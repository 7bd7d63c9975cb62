"""The kernel's tables. They exist in every context's database: each context
writes its outbox rows, and records its inbox rows, through its own alias."""

from __future__ import annotations

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

    class Meta:
        ordering = ["created_at"]
        indexes = [
            # The relay's query: unpublished rows, oldest first.
            models.Index(
                fields=["created_at"],
                name="outbox_unpublished_idx",
                condition=models.Q(published_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} v{self.event_version} {self.event_id}"
