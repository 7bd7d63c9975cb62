"""The catalog context's errors: one base type, mapped to HTTP by the kernel's handler."""

from __future__ import annotations

from contexts.kernel.errors import DomainError


class CatalogError(DomainError):
    """Base of every error the catalog's services raise (400 unless a subclass says)."""


class ProductNotFound(CatalogError):
    http_status = 404

    def __init__(self, detail: str = "Product not found.") -> None:
        super().__init__(detail)


class NotProductOwner(CatalogError):
    """Only the product's owner or staff may change it."""

    http_status = 403

    def __init__(self, detail: str = "Only the product's owner or staff may do this.") -> None:
        super().__init__(detail)


class OwnerUnknown(CatalogError):
    """The users context does not know the would-be owner."""

    http_status = 403

    def __init__(self, detail: str = "Your account cannot own products.") -> None:
        super().__init__(detail)


class DuplicateSku(CatalogError):
    def __init__(self, detail: str = "A product with this sku already exists.") -> None:
        super().__init__(detail, field="sku")


class InvalidPrice(CatalogError):
    def __init__(self, detail: str = "Price must be greater than zero.") -> None:
        super().__init__(detail, field="price")
