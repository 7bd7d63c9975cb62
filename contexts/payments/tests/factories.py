"""Factories for the payments context's tables."""

from __future__ import annotations

import uuid
from decimal import Decimal

import factory

from contexts.payments.models import Payment


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    order_id = factory.LazyFunction(uuid.uuid4)
    amount = Decimal("25.00")
    currency = "USD"
    status = Payment.Status.PENDING

    class Params:
        captured = factory.Trait(
            status=Payment.Status.CAPTURED,
            gateway_reference=factory.LazyFunction(lambda: f"ch_{uuid.uuid4().hex}"),
        )
