import json
import uuid
from decimal import Decimal

from django.core.management.base import BaseCommand

from bench.plain.models import PlainProduct


class Command(BaseCommand):
    help = "Create products for the plain checkout benchmark and print their ids as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=20)
        parser.add_argument("--stock", type=int, default=1_000_000)

    def handle(self, *args, products: int, stock: int, **options):
        rows = PlainProduct.objects.bulk_create(
            PlainProduct(sku=f"PLAIN-{uuid.uuid4().hex[:10]}", price=Decimal("1.00"), on_hand=stock)
            for _ in range(products)
        )
        self.stdout.write(json.dumps([str(row.id) for row in rows]))
