"""The notifications context's public interface: the only functions other contexts may call.

Functions take and return plain data: primitives and the types of
``contexts.notifications.contracts``.
"""

from __future__ import annotations

from uuid import UUID

from contexts.notifications import selectors
from contexts.notifications.contracts import NotificationInfo

__all__ = ["list_notifications_for_user"]


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
        for n in selectors.list_notifications_for_user(user_id=user_id)
    ]
