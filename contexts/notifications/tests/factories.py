"""Factories of the notifications context's tests."""

from __future__ import annotations

import uuid

import factory
from django.utils import timezone

from contexts.notifications.models import Notification


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user_id = factory.LazyFunction(uuid.uuid4)
    kind = Notification.Kind.WELCOME
    subject = factory.Sequence(lambda n: f"Subject {n}")
    body = "Hello"
    source_event_id = factory.LazyFunction(uuid.uuid4)
    created_at = factory.LazyFunction(timezone.now)
