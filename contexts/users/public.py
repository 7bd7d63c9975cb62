"""The users context's public interface: the only functions other contexts may call.

Functions take and return plain data: primitives and the types of
``contexts.users.contracts``. Where this deployment runs the users context
they run in the process (``local``); elsewhere they call the users deployment
at ``USERS_URL`` (``remote``), which may raise ``UsersUnavailable``. Callers
cannot tell the difference.
"""

from __future__ import annotations

from types import ModuleType
from uuid import UUID

from contexts.kernel.deployment import runs_here
from contexts.users.contracts import UserInfo

__all__ = ["get_user", "user_exists"]


def get_user(user_id: UUID) -> UserInfo | None:
    """The account with ``user_id`` (active or not), or None if there is none.

    A malformed id is treated as unknown.
    """
    return _implementation().get_user(user_id)


def user_exists(user_id: UUID) -> bool:
    """True if an *active* account has ``user_id``; False for unknown or malformed ids."""
    return _implementation().user_exists(user_id)


def _implementation() -> ModuleType:
    """``local`` where users runs in this deployment, else the HTTP adapter ``remote``."""
    if runs_here("users"):
        from contexts.users import local

        return local
    from contexts.users import remote

    return remote
