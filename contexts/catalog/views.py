"""The catalog's HTTP surface: validate, call a service or selector, serialize."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response

from contexts.catalog import selectors, services
from contexts.catalog.filters import ProductFilter
from contexts.catalog.serializers import (
    ProductCreateSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
)
from contexts.kernel.api import Pagination

_NOT_OWNER = OpenApiResponse(description="Neither the product's owner nor staff.")


class ProductCollectionView(GenericAPIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    pagination_class = Pagination
    serializer_class = ProductSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProductFilter

    def get_queryset(self):
        return selectors.product_list()

    @extend_schema(operation_id="products_list", responses={200: ProductSerializer(many=True)})
    def get(self, request):
        products = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(products)
        return self.get_paginated_response(ProductSerializer(page, many=True).data)

    @extend_schema(
        operation_id="products_create",
        request=ProductCreateSerializer,
        responses={201: ProductSerializer},
    )
    def post(self, request):
        data = ProductCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_create(owner_id=request.user.id, **data.validated_data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailView(GenericAPIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = ProductSerializer

    @extend_schema(operation_id="products_retrieve", responses={200: ProductSerializer})
    def get(self, request, product_id):
        product = selectors.product_get(product_id=product_id)
        return Response(ProductSerializer(product).data)

    @extend_schema(
        operation_id="products_partial_update",
        request=ProductUpdateSerializer,
        responses={200: ProductSerializer, 403: _NOT_OWNER},
    )
    def patch(self, request, product_id):
        data = ProductUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_update(
            product_id=product_id,
            actor_id=request.user.id,
            actor_is_staff=request.user.is_staff,
            **data.validated_data,
        )
        return Response(ProductSerializer(product).data)

    @extend_schema(operation_id="products_destroy", responses={204: None, 403: _NOT_OWNER})
    def delete(self, request, product_id):
        services.product_delete(
            product_id=product_id,
            actor_id=request.user.id,
            actor_is_staff=request.user.is_staff,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
