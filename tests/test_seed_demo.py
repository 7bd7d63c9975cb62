"""``manage.py seed_demo``: progress per product, ``--dry-run`` changes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


def product_count() -> int:
    return Client().get("/api/products").json()["count"]


def test_a_dry_run_lists_what_would_be_created_and_changes_nothing():
    out = StringIO()
    call_command("seed_demo", "--dry-run", stdout=out)

    text = out.getvalue()
    assert "would create DEMO-MUG with 100 in stock" in text
    assert "nothing was changed" in text
    assert product_count() == 0


def test_seeding_reports_each_product_and_a_second_run_creates_nothing():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "[1/3] DEMO-MUG: created with 100 in stock" in out.getvalue()
    assert product_count() == 3

    out = StringIO()
    call_command("seed_demo", "--dry-run", stdout=out)
    assert "would create DEMO" not in out.getvalue()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "[3/3] DEMO-BOOK: already there" in out.getvalue()
    assert product_count() == 3
