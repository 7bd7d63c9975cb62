"""The notifications context's public interface: the only functions other contexts may call.

Functions take and return plain data (primitives and frozen dataclasses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contexts.notifications import selectors

__all__ = ["NotificationInfo", "list_notifications_for_user"]


@dataclass(frozen=True)
class NotificationInfo:
    """A notification as other contexts may see it."""

    id: UUID
    user_id: UUID
    kind: str
    subject: str
    body: str
    order_id: UUID | None
    created_at: datetime
    email_sent_at: datetime | None


def list_notifications_for_user(user_id: UUID) -> list[NotificationInfo]:
    """Every notification of ``user_id``, newest first (empty for an unknown user)."""
    return [
        NotificationInfo(
            id=n.id,
            user_id=n.user_id,
            kind=n.kind,
            subject=n.subject,
            body=n.body,
            order_id=n.order_id,
            created_at=n.created_at,
            email_sent_at=n.email_sent_at,
        )
        for n in selectors.notifications_for_user(user_id=user_id)
    ]
