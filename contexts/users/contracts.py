"""What crosses the users boundary: the account DTO.

Plain Python only (no Django, nothing else of this context), so that a caller
over HTTP could share this module unchanged. ``public.py`` offers the
functions; this module the types they speak.
The users context raises no error another context catches: its errors
(``contexts.users.errors``) reach only its own API.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

__all__ = ["UserInfo"]


@dataclass(frozen=True)
class UserInfo:
    """What other contexts may know about an account."""

    id: UUID
    email: str
    name: str
    is_active: bool
    is_staff: bool
