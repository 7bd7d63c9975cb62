"""The payments context's internal API: what other deployments call through ``remote``.

Mounted under ``/internal/v1/payments/`` by ``config/internal_urls.py`` where
this deployment runs payments; service token only (``contexts.kernel.remote``).
Every write is idempotent per order (the payment row and the gateway key are
the order's), so a caller may repeat any of them after a lost reply: the
``Idempotency-Key`` it sends names the order, and a repeat charges or refunds
nothing more.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from contexts.kernel.remote.codec import decode, encode
from contexts.kernel.remote.schema import contract_serializer
from contexts.kernel.remote.views import InternalView
from contexts.payments import local
from contexts.payments.contracts import ChargeOutcome, ChargeRequest, PaymentError, PaymentInfo

_ERRORS = OpenApiResponse(
    description='A contract error: `{"detail", "error": "ChargeDeclined" | "PaymentAbandoned" '
    '| "PaymentError" | "PaymentRefundRejected"}`; 503 `PaymentGatewayUnavailable`.'
)


def _decoded(annotation: Any, data: Any) -> Any:
    """The request body as contract data; a body that is not one is a 400 ``PaymentError``."""
    try:
        return decode(annotation, data)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise PaymentError(f"Malformed request body: {exc}.") from exc


class ChargesView(InternalView):
    @extend_schema(
        operation_id="payments_charge_for_orders",
        summary="Charge many orders, each once (public.charge_for_orders)",
        request=inline_serializer(
            "ChargeRequests", {"requests": contract_serializer(ChargeRequest)(many=True)}
        ),
        responses={
            200: inline_serializer(
                "ChargeOutcomes", {"outcomes": contract_serializer(ChargeOutcome)(many=True)}
            ),
            400: _ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        requests = _decoded(list[ChargeRequest], body.get("requests"))
        outcomes = local.charge_for_orders(requests=requests)
        return Response({"outcomes": encode(list(outcomes.values()))})


class ChargeView(InternalView):
    @extend_schema(
        operation_id="payments_charge_for_order",
        summary="Charge one order, once (public.charge_for_order)",
        request=inline_serializer(
            "ChargeOrder",
            {
                "amount": serializers.DecimalField(max_digits=12, decimal_places=2),
                "currency": serializers.CharField(),
                "payment_token": serializers.CharField(allow_blank=True),
            },
        ),
        responses={200: contract_serializer(PaymentInfo), 400: _ERRORS},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        charge = _decoded(ChargeRequest, {**body, "order_id": str(order_id)})
        payment = local.charge_for_order(
            order_id=charge.order_id,
            amount=charge.amount,
            currency=charge.currency,
            payment_token=charge.payment_token,
        )
        return Response(encode(payment))


class RefundView(InternalView):
    @extend_schema(
        operation_id="payments_refund_for_order",
        summary="Give the order's payment back, once (public.refund_for_order)",
        request=None,
        responses={
            200: contract_serializer(PaymentInfo),
            204: OpenApiResponse(description="Nothing was taken: nothing to give back."),
            400: _ERRORS,
        },
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        refund = local.refund_for_order(order_id=order_id)
        return Response(encode(refund)) if refund is not None else Response(status=204)


class ResubmissionView(InternalView):
    @extend_schema(
        operation_id="payments_resubmit_rejected_refund",
        summary="Make a rejected refund due again (public.resubmit_rejected_refund)",
        request=None,
        responses={
            200: inline_serializer("Resubmission", {"resubmitted": serializers.BooleanField()})
        },
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        return Response({"resubmitted": local.resubmit_rejected_refund(order_id=order_id)})


class PaymentView(InternalView):
    @extend_schema(
        operation_id="payments_get_payment_for_order",
        summary="The order's payment (public.get_payment_for_order)",
        responses={
            200: contract_serializer(PaymentInfo),
            404: OpenApiResponse(description="The order was never charged."),
        },
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        payment = local.get_payment_for_order(order_id=order_id)
        if payment is None:
            return Response({"detail": "The order was never charged."}, status=404)
        return Response(encode(payment))


urlpatterns = [
    path("charges", ChargesView.as_view(), name="internal-payments-charges"),
    path("charges/<uuid:order_id>", ChargeView.as_view(), name="internal-payments-charge"),
    path("refunds/<uuid:order_id>", RefundView.as_view(), name="internal-payments-refund"),
    path(
        "refunds/<uuid:order_id>/resubmission",
        ResubmissionView.as_view(),
        name="internal-payments-resubmission",
    ),
    path("orders/<uuid:order_id>/payment", PaymentView.as_view(), name="internal-payments-payment"),
]
