"""The plain checkout's own tables (no context owns them, on purpose)."""

import uuid

from django.db import models


class PlainProduct(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    sku = models.CharField(max_length=64, unique=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    on_hand = models.IntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(on_hand__gte=0), name="plain_on_hand")
        ]

    def __str__(self) -> str:
        return self.sku


class PlainOrder(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user_id = models.UUIDField()
    status = models.CharField(max_length=16, default="CONFIRMED")
    total = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.id)


class PlainOrderItem(models.Model):
    order = models.ForeignKey(PlainOrder, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(PlainProduct, on_delete=models.PROTECT)
    quantity = models.IntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class PlainPayment(models.Model):
    order = models.OneToOneField(PlainOrder, on_delete=models.CASCADE)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    token = models.CharField(max_length=100)
    status = models.CharField(max_length=16, default="CAPTURED")

    def __str__(self) -> str:
        return f"{self.order_id} {self.status}"


class PlainNotification(models.Model):
    order = models.ForeignKey(PlainOrder, on_delete=models.CASCADE)
    user_id = models.UUIDField()
    subject = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.subject
