from celery import shared_task

from bench.plain.models import PlainNotification, PlainOrder


@shared_task(name="bench_plain.notify_order_confirmed")
def notify_order_confirmed(order_id: str) -> None:
    """The plain checkout's confirmation notification (no email: the bench sends none)."""
    order = PlainOrder.objects.get(id=order_id)
    PlainNotification.objects.get_or_create(
        order=order, defaults={"user_id": order.user_id, "subject": "Order confirmed"}
    )
