"""What crosses the notifications boundary: the notification DTO.

Plain Python only (no Django, nothing else of this context), so that a caller
over HTTP could share this module unchanged. ``public.py`` offers the
functions; this module the types they speak.
The notifications context raises no error another context catches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

__all__ = ["NotificationInfo"]


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
