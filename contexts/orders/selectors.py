"""Read queries of the orders context."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import QuerySet

from contexts.orders import history
from contexts.orders.errors import OrderNotFound
from contexts.orders.models import Order, OrderHistoryEntry, OrderSummary, SagaState, SagaStatus


def get_order(*, order_id: UUID) -> Order | None:
    """The order with its items (two queries), or None."""
    return Order.objects.prefetch_related("items").filter(pk=order_id).first()


def order_for_actor(*, order_id: UUID, actor_id: UUID, actor_is_staff: bool) -> Order:
    """The order if ``actor`` owns it or is staff; ``OrderNotFound`` otherwise (not 403)."""
    orders = Order.objects.prefetch_related("items").filter(pk=order_id)
    if not actor_is_staff:
        orders = orders.filter(user_id=actor_id)
    order = orders.first()
    if order is None:
        raise OrderNotFound()
    return order


def order_history(*, order_id: UUID) -> list[OrderHistoryEntry]:
    """The order's history, oldest first, as stored (raw detail included: for staff tools)."""
    return list(OrderHistoryEntry.objects.filter(order_id=order_id).order_by("sequence"))


def order_history_for_api(*, order: Order) -> list[dict[str, Any]]:
    """The order's history, oldest first, as the API shows it (reasons, no internals)."""
    return [
        {
            "sequence": entry.sequence,
            "type": entry.type,
            "occurred_at": entry.occurred_at,
            "data": history.public_data(entry, owner_id=order.user_id),
        }
        for entry in order_history(order_id=order.id)
    ]


def order_summaries_for_user(*, user_id: UUID) -> QuerySet[OrderSummary]:
    """The user's orders from the read model, newest first (one query per page)."""
    return OrderSummary.objects.filter(user_id=user_id).order_by("-created_at", "-order_id")


def order_summaries_filter(
    summaries: QuerySet[OrderSummary],
    *,
    status: str = "",
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[OrderSummary]:
    """``summaries`` narrowed by status and by creation time (both bounds inclusive).

    An empty or None criterion is no filter.
    """
    if status:
        summaries = summaries.filter(status=status)
    if created_after is not None:
        summaries = summaries.filter(created_at__gte=created_after)
    if created_before is not None:
        summaries = summaries.filter(created_at__lte=created_before)
    return summaries


def sagas_needing_attention() -> QuerySet[SagaState]:
    """Sagas stopped for staff (NEEDS_ATTENTION), oldest first, with their orders."""
    return (
        SagaState.objects.select_related("order")
        .filter(status=SagaStatus.NEEDS_ATTENTION)
        .order_by("updated_at")
    )


def sagas_needing_attention_count() -> int:
    """How many sagas wait for staff (an operator signal: it should stay at zero)."""
    return SagaState.objects.filter(status=SagaStatus.NEEDS_ATTENTION).count()
