"""Domain events published by the payments context (frozen, versioned)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from contexts.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class PaymentCaptured(DomainEvent):
    name: ClassVar[str] = "payments.PaymentCaptured"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "payments"

    payment_id: UUID
    order_id: UUID
    amount: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class PaymentDeclined(DomainEvent):
    name: ClassVar[str] = "payments.PaymentDeclined"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "payments"

    payment_id: UUID
    order_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class PaymentRefunded(DomainEvent):
    name: ClassVar[str] = "payments.PaymentRefunded"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "payments"

    payment_id: UUID
    order_id: UUID
    amount: Decimal
    currency: str
