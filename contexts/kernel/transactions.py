"""The one way to open a transaction: on the owning context's database alias."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from contexts.kernel.databases import database_for


def atomic(context: str, *, savepoint: bool = True) -> transaction.Atomic:
    """``transaction.atomic`` on ``context``'s alias; use it as a context manager."""
    return transaction.atomic(using=database_for(context), savepoint=savepoint)


def in_transaction(context: str) -> bool:
    """True while a transaction is open on ``context``'s alias."""
    return transaction.get_connection(database_for(context)).in_atomic_block


def on_commit(context: str, func: Callable[[], None]) -> None:
    """Run ``func`` once ``context``'s current transaction commits (at once outside one)."""
    transaction.on_commit(func, using=database_for(context))
