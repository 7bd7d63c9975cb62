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
from contexts.kernel.relay import envelope_of, relay_outbox
from contexts.kernel.transactions import atomic


def publish_committed(event: DomainEvent, *, relay: bool = True) -> dict[str, Any]:
    """Publish ``event`` in its own committed transaction; return its delivery envelope.

    With ``relay`` (the default) the publisher's outbox is relayed right away,
    in this process, as a worker's relay loop does once woken by the commit
    (tests without a worker have no loop; with one, both relays split the rows).
    """
    with atomic(event.context):
        publish(event)
    if relay:
        relay_outbox(databases=[database_for(event.context)])
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


def queued_deliveries(queue: str) -> list[dict[str, Any]]:
    """The deliveries waiting in ``queue``: one entry per (handler, event) of every
    ``deliver_events`` batch message (and per ``deliver_event`` message of older
    deployments), each ``{"task", "kwargs": {"handler", "event"}, "headers"}``."""
    deliveries = []
    for message in queued_messages(queue):
        if message["task"].endswith(".deliver_events"):
            for item in message["kwargs"]["deliveries"]:
                deliveries.append({**message, "kwargs": item})
        elif message["task"].endswith(".deliver_event"):
            deliveries.append(message)
    return deliveries
