"""What crosses the notifications boundary: the notification DTO.

Plain Python only (no Django, nothing else of this context), so that a caller
over HTTP could share this module unchanged. ``public.py`` offers the
functions; this module the types they speak, and the events the context consumes.
The notifications context raises no error another context catches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contexts.kernel.consumes import Consumes

__all__ = ["CONSUMES", "NotificationInfo"]

#: The events notifications consumes, by handler id (``handlers.py`` registers each).
#: Every deployment reads this, so users and orders send these events to the
#: ``notifications`` queue even where notifications runs as a deployment of its own.
CONSUMES = (
    Consumes("users.UserRegistered", 1, handler="notifications.welcome_new_user"),
    Consumes("orders.OrderConfirmed", 1, handler="notifications.notify_order_confirmed"),
    Consumes("orders.OrderCancelled", 1, handler="notifications.notify_order_cancelled"),
)


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
