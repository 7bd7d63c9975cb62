"""What crosses the catalog boundary: the product DTO.

Plain Python only (no Django, nothing else of this context), so that a caller
over HTTP could share this module unchanged. ``public.py`` offers the
functions; this module the types they speak.
The catalog raises no error another context catches: its errors
(``contexts.catalog.errors``) reach only its own API.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

__all__ = ["ProductInfo"]


@dataclass(frozen=True)
class ProductInfo:
    """A product as other contexts see it: what an order needs to price a line."""

    id: UUID
    sku: str
    name: str
    price: Decimal
    currency: str
    owner_id: UUID
