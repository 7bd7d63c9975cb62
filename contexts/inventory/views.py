"""The inventory's HTTP surface: validate, call a service or selector, serialize."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contexts.inventory import selectors, services
from contexts.inventory.serializers import StockAdjustmentSerializer, StockLevelSerializer


class StockLevelView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="inventory_retrieve", responses={200: StockLevelSerializer})
    def get(self, request, product_id):
        level = selectors.stock_level_of_product(product_id=product_id)
        return Response(StockLevelSerializer(level).data)


class StockAdjustView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="inventory_adjust",
        request=StockAdjustmentSerializer,
        responses={
            200: StockLevelSerializer,
            403: OpenApiResponse(description="Neither the product's owner nor staff."),
            409: OpenApiResponse(description="It would make on_hand less than reserved."),
        },
    )
    def post(self, request, product_id):
        # Who may, before what: a stranger learns nothing from the body's validation.
        services.ensure_may_adjust_stock(
            product_id=product_id, actor_id=request.user.id, actor_is_staff=request.user.is_staff
        )
        data = StockAdjustmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        level = services.stock_adjust(
            product_id=product_id, actor_id=request.user.id, **data.validated_data
        )
        return Response(StockLevelSerializer(level).data)
