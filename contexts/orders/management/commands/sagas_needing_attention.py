"""``manage.py sagas_needing_attention [--resume ORDER_ID ...]``: sagas stopped for staff."""

from __future__ import annotations

from uuid import UUID

from django.core.management.base import BaseCommand, CommandError

from contexts.orders import selectors, services


class Command(BaseCommand):
    help = (
        "List the order sagas stopped in NEEDS_ATTENTION (step, attempts, last error). "
        "With --resume ORDER_ID, run that saga again from its step (a rejected refund "
        "is resubmitted to the gateway)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--resume",
            metavar="ORDER_ID",
            action="append",
            default=[],
            help="Resume the saga of this order (may be given more than once).",
        )

    def handle(self, *args, resume: list[str], **options) -> None:
        if resume:
            self._resume(resume)
            return
        states = list(selectors.sagas_needing_attention())
        for state in states:
            error = " ".join(state.last_error.split())[:300]
            self.stdout.write(
                f"{state.order_id}  {state.step}  attempts={state.attempts}  "
                f"since={state.updated_at.isoformat()}  order={state.order.status}  "
                f"last_error={error}"
            )
        self.stdout.write(f"{len(states)} saga(s) need attention")

    def _resume(self, order_ids: list[str]) -> None:
        failed = []
        for raw in order_ids:
            try:
                order_id = UUID(raw)
            except ValueError:
                raise CommandError(f"{raw!r} is not an order id") from None
            if services.order_saga_resume(order_id=order_id):
                self.stdout.write(f"{order_id}: resumed")
            else:
                failed.append(raw)
                self.stderr.write(f"{order_id}: its saga is not waiting for staff")
        if failed:
            raise CommandError(f"{len(failed)} saga(s) not resumed")
