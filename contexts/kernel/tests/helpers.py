"""Helpers of the kernel's tests: publishing probes and reading the broker's queues."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis
from celery import current_app

from contexts.kernel.databases import database_for
from contexts.kernel.events import DomainEvent
from contexts.kernel.models import OutboxMessage
from contexts.kernel.outbox import publish
from contexts.kernel.relay import envelope_of
from contexts.kernel.transactions import atomic


def publish_committed(event: DomainEvent) -> dict[str, Any]:
    """Publish ``event`` in its own committed transaction; return its delivery envelope."""
    with atomic(event.context):
        publish(event)
    return envelope_of(outbox_row(event))


def outbox_row(event: DomainEvent) -> OutboxMessage:
    return OutboxMessage.objects.using(database_for(event.context)).get(pk=event.event_id)


def queued_messages(queue: str) -> list[dict[str, Any]]:
    """The task messages waiting in ``queue`` on the (Redis) test broker.

    Each is ``{"task", "kwargs", "headers"}`` decoded from kombu's Redis layout.
    """
    client = redis.Redis.from_url(current_app.conf.broker_url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    messages = []
    for item in raw:
        message = json.loads(item)
        body = json.loads(base64.b64decode(message["body"]))
        messages.append(
            {"task": message["headers"]["task"], "kwargs": body[1], "headers": message["headers"]}
        )
    return messages
