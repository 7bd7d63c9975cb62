"""Factories for the inventory's tables (written through its alias by the router)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from contexts.inventory.models import Reservation, StockLevel


class StockLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockLevel

    product_id = factory.LazyFunction(uuid.uuid4)
    on_hand = 10
    reserved = 0


class ReservationFactory(factory.django.DjangoModelFactory):
    """A reservation row alone: arrange the matching StockLevel.reserved yourself."""

    class Meta:
        model = Reservation

    order_id = factory.LazyFunction(uuid.uuid4)
    product_id = factory.LazyFunction(uuid.uuid4)
    quantity = 1
    status = Reservation.Status.RESERVED
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=15))
