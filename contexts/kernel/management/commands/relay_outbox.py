"""manage.py relay_outbox: send every unpublished outbox row now (what the sweep does)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from contexts.kernel.delivery import redrive_due_deliveries
from contexts.kernel.relay import relay_outbox


class Command(BaseCommand):
    help = "Relay unpublished outbox rows and resend due deliveries, once."

    def handle(self, *args, **options):
        relayed = relay_outbox()
        redriven = redrive_due_deliveries()
        self.stdout.write(f"relayed {relayed} event(s), resent {redriven} delivery(ies)")
