"""What crosses the users boundary: the account DTO and the one error a caller may see.

Plain Python only (no Django, nothing else of this context), so that a caller
over HTTP could share this module unchanged. ``public.py`` offers the
functions; this module the types they speak.
Of the users context's errors only ``UsersUnavailable`` reaches another
context (when users runs as its own deployment and does not answer); the rest
(``contexts.users.errors``) reach only its own API.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from contexts.kernel.errors import DomainError

__all__ = ["UserInfo", "UsersUnavailable"]


@dataclass(frozen=True)
class UserInfo:
    """What other contexts may know about an account."""

    id: UUID
    email: str
    name: str
    is_active: bool
    is_staff: bool


class UsersUnavailable(DomainError):
    """The users deployment gave no answer (refused, timed out, 5xx): retry later.

    Raised only where users runs elsewhere (``USERS_URL``); the API answers it
    503, so a customer sees "try again", never a 500.
    """

    http_status = 503
