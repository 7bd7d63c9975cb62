"""Seed demo data for `make run`, through the public HTTP API like any client.

Going through the API (not the contexts' private services) keeps this command
free of business logic and exercises the same paths a newcomer will try.
Running it twice is harmless: existing demo data is left as it is. It prints
a line per product as it goes; ``--dry-run`` lists what would be created and
changes nothing. (There is no ``--batch-size``: the demo data is three
products, created one request each.)
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.test import Client

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-123"
PRODUCTS = [
    ("DEMO-MUG", "Coffee mug", "A sturdy 350 ml mug.", "12.50", 100),
    ("DEMO-TEE", "T-shirt", "Organic cotton, unisex.", "19.99", 50),
    ("DEMO-BOOK", "Architecture Patterns with Python", "The Cosmic Python book.", "39.00", 5),
]


class Command(BaseCommand):
    help = f"Create a demo user ({DEMO_EMAIL} / {DEMO_PASSWORD}), products and stock."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be created; change nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        client = Client(HTTP_HOST="localhost")
        if dry_run:
            self._dry_run(client)
            return
        self._call(
            client,
            "post",
            "/api/users",
            {"email": DEMO_EMAIL, "name": "Demo Customer", "password": DEMO_PASSWORD},
            ok=(201, 400),
        )
        tokens = self._call(
            client, "post", "/api/auth/token", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        )
        auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}
        for done, (sku, name, description, price, stock) in enumerate(PRODUCTS, start=1):
            existing = self._call(client, "get", f"/api/products?search={sku}")["results"]
            if existing:
                self.stdout.write(f"[{done}/{len(PRODUCTS)}] {sku}: already there")
                continue
            product = self._call(
                client,
                "post",
                "/api/products",
                {"sku": sku, "name": name, "description": description, "price": price},
                ok=(201,),
                **auth,
            )
            self._call(
                client,
                "post",
                f"/api/inventory/{product['id']}/adjust",
                {"delta": stock, "reason": "demo seed"},
                **auth,
            )
            self.stdout.write(f"[{done}/{len(PRODUCTS)}] {sku}: created with {stock} in stock")
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready: sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}")
        )

    def _dry_run(self, client) -> None:
        # A sign-in to find out would count as a failure towards the email's lockout.
        self.stdout.write(f"would create the user {DEMO_EMAIL} unless it exists")
        for sku, _name, _description, _price, stock in PRODUCTS:
            if not self._call(client, "get", f"/api/products?search={sku}")["results"]:
                self.stdout.write(f"would create {sku} with {stock} in stock")
        self.stdout.write("dry run: nothing was changed")

    def _call(self, client, method, path, body=None, ok=(200,), **headers):
        kwargs = {"content_type": "application/json", **headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
        response = getattr(client, method)(path, **kwargs)
        if response.status_code not in ok:
            raise CommandError(
                f"{method.upper()} {path}: {response.status_code} {response.content!r}"
            )
        return response.json() if response.content else {}
