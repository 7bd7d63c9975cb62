"""Domain events published by the catalog context (frozen, versioned)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from contexts.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class ProductCreated(DomainEvent):
    """A product was added to the catalog (it starts with zero stock)."""

    name: ClassVar[str] = "catalog.ProductCreated"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "catalog"

    product_id: UUID
    sku: str
    product_name: str
    price: Decimal
    currency: str
    owner_id: UUID


@dataclass(frozen=True, kw_only=True)
class ProductPriceChanged(DomainEvent):
    """A product's price changed; orders placed earlier keep their price."""

    name: ClassVar[str] = "catalog.ProductPriceChanged"
    version: ClassVar[int] = 1
    context: ClassVar[str] = "catalog"

    product_id: UUID
    old_price: Decimal
    new_price: Decimal
    currency: str
