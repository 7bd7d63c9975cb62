"""Domain events published by the users context (frozen, versioned)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from contexts.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class UserRegistered(DomainEvent):
    """A new account was created."""

    name: ClassVar[str] = "users.UserRegistered"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "users"

    user_id: UUID
    email: str
    display_name: str
