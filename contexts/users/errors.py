"""The users context's one error type and its cases (mapped to HTTP by the kernel)."""

from __future__ import annotations

from contexts.kernel.errors import DomainError, Invalid, NotFound, Throttled


class UsersError(DomainError):
    """Base of every error the users context raises."""


class EmailAlreadyRegistered(UsersError, Invalid):
    """An account with this email exists already (emails compare case-insensitively)."""


class InvalidRegistration(UsersError, Invalid):
    """A registration field breaks a rule: malformed email, blank name, weak password."""


class UserNotFound(UsersError, NotFound):
    """No active user with this id."""


class LoginLocked(UsersError, Throttled):
    """Too many failed sign-ins for this email: refused until ``retry_after`` seconds pass."""
