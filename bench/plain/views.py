"""``POST /bench/plain-checkout``: the whole order in one request and one transaction."""

from collections import Counter

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.plain.models import PlainOrder, PlainOrderItem, PlainPayment, PlainProduct
from bench.plain.tasks import notify_order_confirmed


class PlainItemSerializer(serializers.Serializer):
    product_id = serializers.UUIDField()
    quantity = serializers.IntegerField(min_value=1, max_value=1000)


class PlainCheckoutSerializer(serializers.Serializer):
    items = PlainItemSerializer(many=True, allow_empty=False, max_length=100)
    payment_token = serializers.CharField()


class PlainCheckoutView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes: list = []

    @extend_schema(exclude=True)
    def post(self, request):
        data = PlainCheckoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = Counter()
        for item in data.validated_data["items"]:
            wanted[item["product_id"]] += item["quantity"]
        with transaction.atomic():
            # Lock in primary-key order so concurrent checkouts cannot deadlock.
            products = list(
                PlainProduct.objects.select_for_update().filter(id__in=wanted).order_by("id")
            )
            if len(products) != len(wanted):
                return Response({"detail": "unknown product"}, status=400)
            if any(p.on_hand < wanted[p.id] for p in products):
                return Response({"detail": "out of stock"}, status=409)
            total = sum(p.price * wanted[p.id] for p in products)
            order = PlainOrder.objects.create(user_id=request.user.id, total=total)
            PlainOrderItem.objects.bulk_create(
                PlainOrderItem(order=order, product=p, quantity=wanted[p.id], unit_price=p.price)
                for p in products
            )
            for p in products:
                p.on_hand -= wanted[p.id]
            PlainProduct.objects.bulk_update(products, ["on_hand"])
            PlainPayment.objects.create(
                order=order, amount=total, token=data.validated_data["payment_token"]
            )
            transaction.on_commit(
                lambda order_id=order.id: notify_order_confirmed.delay(str(order_id))  # type: ignore[misc]  # mypy cannot type a lambda's default argument
            )
        return Response(
            {"id": str(order.id), "status": order.status, "total": str(total)}, status=201
        )
