"""The users context's public functions, called over HTTP where users runs elsewhere.

``public`` delegates here when ``users`` is not in this deployment's
``SHOP_CONTEXTS``; the users deployment at ``USERS_URL`` serves them
(``internal_api``). Same functions, same contract types; a users deployment
that does not answer raises ``UsersUnavailable`` (503 for the customer).
"""

from __future__ import annotations

from uuid import UUID

from contexts.kernel.remote.client import RemoteContext
from contexts.kernel.remote.codec import decode_as
from contexts.users.contracts import UserInfo, UsersUnavailable

users = RemoteContext("users", unavailable=UsersUnavailable)


def get_user(user_id: UUID) -> UserInfo | None:
    parsed = _as_uuid(user_id)
    if parsed is None:
        return None
    data = users.get(f"users/{parsed}")
    return decode_as(UserInfo, data) if data is not None else None


def user_exists(user_id: UUID) -> bool:
    user = get_user(user_id)
    return user is not None and user.is_active


def _as_uuid(value: UUID | str) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
