"""The users context's public interface: the only functions other contexts may call.

Functions take and return plain data: primitives and the types of
``contexts.users.contracts``.
"""

from __future__ import annotations

from uuid import UUID

from contexts.users import selectors
from contexts.users.contracts import UserInfo

__all__ = ["get_user", "user_exists"]


def get_user(user_id: UUID) -> UserInfo | None:
    """The account with ``user_id`` (active or not), or None if there is none.

    A malformed id is treated as unknown.
    """
    parsed = _as_uuid(user_id)
    if parsed is None:
        return None
    user = selectors.get_user(user_id=parsed)
    if user is None:
        return None
    return UserInfo(
        id=user.id,
        email=user.email,
        name=user.name,
        is_active=user.is_active,
        is_staff=user.is_staff,
    )


def user_exists(user_id: UUID) -> bool:
    """True if an *active* account has ``user_id``; False for unknown or malformed ids."""
    parsed = _as_uuid(user_id)
    return parsed is not None and selectors.user_exists(user_id=parsed)


def _as_uuid(value: UUID | str) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
