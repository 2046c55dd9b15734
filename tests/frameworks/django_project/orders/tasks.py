"""Found by ``app.autodiscover_tasks()``; the worker runs them with Django's ORM."""

from celery import shared_task
from django.db.models import F
from proj.celery import app

from orders.models import Order


@shared_task
def fulfil(order_id: int) -> str:
    """A plain Celery task, as reusable Django apps write them."""
    Order.objects.filter(id=order_id).update(status="fulfilled")
    return f"order {order_id} fulfilled"


# Stalwart's options work on @shared_task as on @app.task (checked when the app loads).
@shared_task(idempotency_key="receipt:{order_id}")
def send_receipt(order_id: int) -> int:
    """Runs once per order however often it is sent."""
    Order.objects.filter(id=order_id).update(receipts=F("receipts") + 1)
    return order_id


@shared_task
def effective_settings() -> dict[str, object]:
    """What the worker runs with: Django's CELERY_* values over Stalwart's defaults."""
    conf = app.conf
    return {
        "task_soft_time_limit": conf.task_soft_time_limit,
        "task_time_limit": conf.task_time_limit,
        "task_acks_late": conf.task_acks_late,
    }
