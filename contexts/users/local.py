"""The users context's public functions, in the process that runs users.

``public`` delegates here where this deployment runs the users context, and
the internal API (``internal_api``) serves the same functions to deployments
that do not. Each maps the context's models to its contract types.
"""

from __future__ import annotations

from uuid import UUID

from contexts.users import selectors
from contexts.users.contracts import UserInfo


def get_user(user_id: UUID) -> UserInfo | None:
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
    parsed = _as_uuid(user_id)
    return parsed is not None and selectors.user_exists(user_id=parsed)


def _as_uuid(value: UUID | str) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
