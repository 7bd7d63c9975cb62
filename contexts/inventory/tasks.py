"""The inventory's Celery tasks (thin: they call a service). Run on the ``inventory`` queue."""

from __future__ import annotations

from celery import shared_task

from contexts.inventory import services


@shared_task(name="inventory.expire_reservations")
def expire_reservations() -> int:
    """Beat: release reservations held past their expiry; returns how many orders."""
    return services.expire_reservations()
