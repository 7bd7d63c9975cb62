"""Reads of the notifications context."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from contexts.notifications.models import Notification


def list_notifications_for_user(*, user_id: UUID) -> QuerySet[Notification]:
    """A user's notifications, newest first."""
    return Notification.objects.filter(user_id=user_id).order_by("-created_at", "-id")


def notifications_filter(
    notifications: QuerySet[Notification], *, kind: str = ""
) -> QuerySet[Notification]:
    """``notifications`` of one ``kind`` (an empty one is no filter)."""
    if kind:
        notifications = notifications.filter(kind=kind)
    return notifications
