"""Tables owned by the payments context (private to it)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

AMOUNT_DIGITS = 12
AMOUNT_PLACES = 2


def _amount_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, **kwargs)


class PaymentStatus(models.TextChoices):
    #: Created; being charged, or the last attempt failed transiently (outcome unknown).
    PENDING = "PENDING"
    CAPTURED = "CAPTURED"
    DECLINED = "DECLINED"
    #: Voided before any capture was known: the order gave it up (see services).
    #: ``void_confirmed_at`` says whether the gateway has confirmed nothing was taken.
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"


class RefundStatus(models.TextChoices):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    #: The gateway refused it (e.g. it does not know the charge): needs a human,
    #: who may resubmit it (with a new idempotency key) once the PSP accepts it.
    REJECTED = "REJECTED"


class AttemptOutcome(models.TextChoices):
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    #: Transient error: the outcome is unknown, the call is retried with the same key.
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"
    #: A lookup: the gateway holds no definitive outcome for the key (nothing was taken).
    NOT_FOUND = "NOT_FOUND"


class Payment(models.Model):
    """The one payment of an order (orders are referred to by id only)."""

    Status = PaymentStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order_id = models.UUIDField(unique=True)
    amount = _amount_field()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    #: The gateway's id of the capture.
    gateway_reference = models.CharField(max_length=100, blank=True, default="")
    decline_reason = models.CharField(max_length=200, blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    #: Gateway charge calls started (GatewayAttempt rows record the finished ones).
    attempts = models.PositiveIntegerField(default=0)
    #: When the order gave the payment up (a refund or a void was asked for).
    abandoned_at = models.DateTimeField(null=True, blank=True)
    #: When the gateway confirmed that a voided (FAILED) payment's charge took nothing;
    #: null while that is unknown, which the reconciliation job settles.
    void_confirmed_at = models.DateTimeField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["CAPTURED", "REFUNDED"]) | ~Q(gateway_reference=""),
                name="payment_captured_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"payment {self.id} for order {self.order_id} ({self.status})"


class Refund(models.Model):
    """A full refund of a captured payment; at most one per payment."""

    Status = RefundStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="refund")
    amount = _amount_field()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    gateway_reference = models.CharField(max_length=100, blank=True, default="")
    reason = models.CharField(max_length=200, blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    #: Times staff resubmitted it after a rejection; each resubmission is a new
    #: request to the gateway, so it gets a new idempotency key (see services).
    resubmissions = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=RefundStatus.values), name="refund_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.id} of payment {self.payment_id} ({self.status})"


class GatewayAttempt(models.Model):
    """One finished call to the gateway, whatever came of it."""

    class Kind(models.TextChoices):
        CHARGE = "CHARGE"
        REFUND = "REFUND"
        #: What a charge key came to, asked without charging again.
        LOOKUP = "LOOKUP"

    Outcome = AttemptOutcome

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="gateway_attempts")
    refund = models.ForeignKey(
        Refund,
        on_delete=models.PROTECT,
        related_name="gateway_attempts",
        null=True,
        blank=True,
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200)
    outcome = models.CharField(max_length=9, choices=Outcome.choices)
    gateway_reference = models.CharField(max_length=100, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["idempotency_key"], name="payments_attempt_key_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=["CHARGE", "LOOKUP"]) & Q(refund__isnull=True))
                | (Q(kind="REFUND") & Q(refund__isnull=False)),
                name="gateway_attempt_kind_matches_refund",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=AttemptOutcome.values),
                name="gateway_attempt_outcome_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}: {self.outcome}"


class SimulatedGatewayOperation(models.Model):
    """The simulated gateway's own ledger (it stands for the PSP's database).

    One row per idempotency key: the gateway dedupes on it across processes,
    exactly as a remote PSP would. ``outcome`` stays null until the request
    has a definitive answer; an approved charge row is money taken.
    """

    class Kind(models.TextChoices):
        CHARGE = "CHARGE"
        REFUND = "REFUND"

    class Outcome(models.TextChoices):
        APPROVED = "APPROVED"
        DECLINED = "DECLINED"

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = _amount_field()
    currency = models.CharField(max_length=3)
    #: The card token (charges only; simulated tokens carry no card data).
    token = models.CharField(max_length=200, blank=True, default="")
    #: The charge a refund returns money from (refunds only).
    charge_reference = models.CharField(max_length=100, blank=True, default="")
    #: Requests received with this key.
    calls = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, null=True, blank=True)
    reference = models.CharField(max_length=100, blank=True, default="")
    decline_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "simulated gateway operation"
        indexes = [models.Index(fields=["reference"], name="payments_simgw_reference_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="simulated_gateway_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}: {self.outcome or 'unsettled'}"
