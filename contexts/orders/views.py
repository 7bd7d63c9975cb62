"""The orders' HTTP surface: validate, call a service or selector, serialize."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from contexts.kernel.api import Pagination
from contexts.orders import examples, selectors, services
from contexts.orders.errors import InvalidOrder
from contexts.orders.filters import OrderFilter
from contexts.orders.serializers import (
    OrderHistorySerializer,
    OrderListEntrySerializer,
    OrderPlaceSerializer,
    OrderSerializer,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 255

_NOT_FOUND = OpenApiResponse(description="No such order, or not the caller's (unless staff).")
_idempotency_parameter = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Repeat a request safely: the same key and body return the same order; "
    "the same key with another body gets 422.",
)


def _idempotency_key(request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise InvalidOrder(
            f"Must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable characters.",
            field=IDEMPOTENCY_HEADER,
        )
    return key


class OrderCollectionView(GenericAPIView):
    pagination_class = Pagination
    serializer_class = OrderSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter

    def get_queryset(self):
        return selectors.order_summaries_for_user(user_id=self.request.user.id)  # type: ignore[arg-type]  # IsAuthenticated: never anonymous

    @extend_schema(
        operation_id="orders_list",
        responses={200: OrderListEntrySerializer(many=True)},
        examples=[examples.LISTED],
    )
    def get(self, request):
        summaries = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(summaries)
        return self.get_paginated_response(OrderListEntrySerializer(page, many=True).data)

    @extend_schema(
        operation_id="orders_create",
        request=OrderPlaceSerializer,
        parameters=[_idempotency_parameter],
        responses={
            201: OrderSerializer,
            400: OpenApiResponse(description="Invalid body, or an unknown or deleted product."),
            409: OpenApiResponse(description="The same Idempotency-Key is still in flight."),
            422: OpenApiResponse(description="Idempotency-Key reused with a different body."),
        },
        examples=[
            examples.PLACE_REQUEST,
            examples.PLACED,
            examples.UNKNOWN_PRODUCT,
            examples.BAD_QUANTITY,
            examples.KEY_IN_FLIGHT,
            examples.KEY_REUSED,
        ],
    )
    def post(self, request):
        key = _idempotency_key(request)
        data = OrderPlaceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        placed = services.order_place(
            user_id=request.user.id,
            lines=[
                services.LineRequest(product_id=item["product_id"], quantity=item["quantity"])
                for item in data.validated_data["items"]
            ],
            payment_token=data.validated_data["payment_token"],
            idempotency_key=key,
        )
        response = Response(OrderSerializer(placed.order).data, status=status.HTTP_201_CREATED)
        if not placed.created:
            response["Idempotent-Replayed"] = "true"
        return response


class OrderDetailView(GenericAPIView):
    serializer_class = OrderSerializer

    @extend_schema(
        operation_id="orders_retrieve",
        responses={200: OrderSerializer, 404: _NOT_FOUND},
        examples=examples.ORDER_STATES,
    )
    def get(self, request, order_id):
        order = selectors.order_for_actor(
            order_id=order_id, actor_id=request.user.id, actor_is_staff=request.user.is_staff
        )
        return Response(OrderSerializer(order).data)


class OrderHistoryView(GenericAPIView):
    serializer_class = OrderHistorySerializer

    @extend_schema(
        operation_id="orders_history",
        responses={200: OrderHistorySerializer, 404: _NOT_FOUND},
        examples=[examples.HISTORY],
    )
    def get(self, request, order_id):
        order = selectors.order_for_actor(
            order_id=order_id, actor_id=request.user.id, actor_is_staff=request.user.is_staff
        )
        entries = selectors.order_history_for_api(order=order)
        return Response(OrderHistorySerializer({"results": entries}).data)


class OrderCancelView(GenericAPIView):
    serializer_class = OrderSerializer

    @extend_schema(
        operation_id="orders_cancel",
        request=None,
        responses={
            200: OrderSerializer,
            404: _NOT_FOUND,
            409: OpenApiResponse(description="The order is still PENDING, or already CANCELLED."),
        },
        examples=[examples.CANCELLED_BY_CUSTOMER, examples.CANCEL_CONFLICT],
    )
    def post(self, request, order_id):
        order = services.order_cancel(
            order_id=order_id, actor_id=request.user.id, actor_is_staff=request.user.is_staff
        )
        return Response(OrderSerializer(order).data)
